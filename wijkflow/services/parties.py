"""Sign-off by several parties: the gebiedstafel (sociaal, fysiek, veiligheid; Nijmegen) and
the lokaal contract (gemeente, woningcorporatie, partners, bewoners; Hengelo).

Each named party signs once per visit of the phase, each by a different person, with the
decision document as evidence. Called by `approve` inside its transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .. import store
from ..definitions import PartiesCriterion
from ..errors import Conflict, InvalidInput, NotAllowed, NotFound
from ..reminders import notify
from .common import Context, local_iso


def _party(c: PartiesCriterion, key: str, given: str) -> str:
    wanted = given.strip().casefold()
    for party, label in c.parties.items():
        if wanted in (party.casefold(), label.casefold()):
            return party
    raise NotFound(f"'{given}' is not a party of '{key}'; the parties are "
                   + ", ".join(f"{k} ({v})" for k, v in c.parties.items()) + ".")


def approve_party_in(conn: sa.Connection, app: Any, ctx: Context, who: Any, key: str, c: PartiesCriterion, *,
                     party: str | None, evidence: str | None, comment: str | None,
                     now: datetime) -> dict[str, Any]:
    if not party:
        raise InvalidInput(f"'{key}' is signed per party: pass --party (one of "
                           f"{', '.join(c.parties)}) and --evidence with the decision document.")
    party_key = _party(c, key, party)
    ctx.require_role(who, c.role, f"sign '{key}'")
    if c.evidence_required and not evidence:
        raise InvalidInput(f"'{key}' needs the decision document: pass --evidence with a link or reference.")
    done = [p for p in store.party_approvals(conn, ctx.row.id, ctx.row.visit) if p.criterion == key]
    same_party = next((p for p in done if p.party == party_key), None)
    if same_party is not None:
        signer = store.people_by_id(conn, {same_party.person_id}).get(same_party.person_id)
        name = signer.name if signer is not None and signer.forgotten_at is None else "someone"
        raise Conflict(f"{c.parties[party_key]} already signed '{key}' ({name}, "
                       f"{(local_iso(same_party.at, app.tz) or '')[:10]}); nothing was changed.")
    mine = next((p for p in done if p.person_id == who.id), None)
    if mine is not None:
        raise NotAllowed(f"You already signed '{key}' for {c.parties[mine.party]}; each party must be "
                         "represented by a different person.")
    store.insert_party_approval(conn, aanpak_id=ctx.row.id, visit=ctx.row.visit, criterion=key, party=party_key,
                                person_id=who.id, evidence=evidence, comment=comment, at=now)
    store.touch_aanpak(conn, ctx.row.id, now)
    store.append_event(conn, at=now, type="party_approved", aanpak_id=ctx.row.id, actor_id=who.id,
                       from_phase=ctx.row.phase, reason=comment, evidence=evidence,
                       payload={"criterion": key, "label": c.label, "party": party_key,
                                "party_label": c.parties[party_key], "visit": ctx.row.visit})
    notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
    remaining = [label for k, label in c.parties.items() if k != party_key and k not in {p.party for p in done}]
    return {"aanpak": ctx.row.slug, "criterion": key, "label": c.label, "approved": True, "party": party_key,
            "party_label": c.parties[party_key], "remaining": remaining}
