"""Writes audit_vectors.json. The format is frozen (docs/audit-format.md): run this only to add vectors,
never to "fix" a failing vector test. python tests/data/make_audit_vectors.py (from the repository root)."""
import json

from wijkflow import merkle
from wijkflow.audit_format import bundle_line, canonical_bytes, committed, event_leaf

events = [
    {"id": 1, "at": "2026-03-02T08:00:00.000000Z", "aanpak_id": None, "type": "person_added", "actor_id": None,
     "from_phase": None, "to_phase": None, "reason": None, "evidence": None,
     "payload": '{"person_id":1,"role":"admin"}'},
    {"id": 2, "at": "2026-03-02T08:00:00.123456Z", "aanpak_id": 1, "type": "aanpak_created", "actor_id": 3,
     "from_phase": None, "to_phase": "initiate", "reason": None, "evidence": None,
     "payload": '{"name":"Wijkaanpak Noord — De Noork","wijk":"Noord"}'},
    {"id": 3, "at": "2026-03-03T23:59:59.999999Z", "aanpak_id": 1, "type": "criterion_completed", "actor_id": 3,
     "from_phase": "initiate", "to_phase": None, "reason": None, "evidence": "Coalitie \"Noord\" \\ akkoord.pdf",
     "payload": '{"criterion":"coalitie","visit":1}'},
    {"id": 4, "at": "2026-03-10T09:30:00.000001Z", "aanpak_id": 1, "type": "phase_changed", "actor_id": 3,
     "from_phase": "initiate", "to_phase": "analyse", "reason": "Regel 1\nRegel 2\ttab\r\u0001\u001f\u007f",
     "evidence": "", "payload": '{"gate":[],"override":false,"value":-3.5e-07}'},
    {"id": 5, "at": "2027-01-01T00:00:00.000000Z", "aanpak_id": 9007199254740991, "type": "note", "actor_id": 12,
     "from_phase": None, "to_phase": None, "reason": "emoji \U0001F3D8\ufe0f, \u2028 en \u00e9\u00e9n",
     "evidence": None,
     "payload": "{}"},
    {"id": 6, "at": "2026-03-02T08:00:00.000000Z", "aanpak_id": None, "type": "audit_purged", "actor_id": 1,
     "from_phase": None, "to_phase": None, "reason": "Selectielijst 2020, categorie 1.1", "evidence": None,
     "payload": '{"before":"2020-01-01"}'},
    # Revision 2 (schema 0008): events with an origin commit to its digest as an eleventh member.
    {"id": 7, "at": "2026-11-27T09:15:00.000000Z", "aanpak_id": 1, "type": "criterion_completed", "actor_id": 3,
     "from_phase": "initiate", "to_phase": None, "reason": None, "evidence": "coalitie.pdf",
     "payload": '{"criterion":"coalitie"}', "origin": '{"host":"werkplek-12","os_user":"jan","via":"cli"}'},
    {"id": 8, "at": "2026-11-27T09:16:00.000001Z", "aanpak_id": 1, "type": "criterion_approved", "actor_id": 4,
     "from_phase": "initiate", "to_phase": None, "reason": None, "evidence": None,
     "payload": '{"criterion":"lokaal_contract_akkoord"}',
     "origin": '{"client":"2001:db8::7","host":"wijkflow.gemeente-hengelo.nl","method":"oidc","via":"web"}'},
    {"id": 9, "at": "2026-11-27T09:17:00.000000Z", "aanpak_id": None, "type": "person_added", "actor_id": 1,
     "from_phase": None, "to_phase": None, "reason": None, "evidence": None, "payload": '{"person_id":9}',
     "origin": '{"host":"werkplek-\u00e9\u00e9n","os_user":"j.de.vri\u00ebs","via":"cli"}'},
]
out = []
leaves = []
for e in events:
    c = committed(e)
    leaf = event_leaf(e)
    leaves.append(leaf)
    out.append({"event": e, "committed": c, "canonical": canonical_bytes(c).decode(), "leaf_hash": leaf.hex(),
                "bundle_line": bundle_line(e)})
roots = [{"size": n, "root": merkle.root_of(leaves[:n]).hex()} for n in range(len(leaves) + 1)]
json.dump({"format": "wijkflow audit log format 1, revision 2 (docs/audit-format.md)", "events": out, "roots": roots},
          open("tests/data/audit_vectors.json", "w"), indent=1, ensure_ascii=True)

