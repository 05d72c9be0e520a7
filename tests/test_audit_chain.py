"""`audit verify` and `audit head`: the history proves it was not altered, or names where it was.

Tampering is done the way an intruder with the database file would: open it with sqlite3,
drop the append-only triggers, and change rows directly.
"""

from __future__ import annotations

import sqlite3

import pytest
from conftest import PL, SG1

from wijkflow import audit, services
from wijkflow.audit_format import event_leaf

# These tests read and alter the SQLite file itself (tampering, bytes on disk): SQLite only.
pytestmark = pytest.mark.sqlite_only

KEYS = ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering")


@pytest.fixture
def history(app, aanpak, clock) -> int:
    """An aanpak that went through its first gate: 17 events."""
    for key in KEYS:
        clock.forward(1)
        services.complete(app, aanpak, key, evidence=f"{key}.pdf", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)
    services.advance(app, aanpak, acting=PL, reason="Lokaal contract getekend")
    app.close()  # the test opens the file itself
    return 17


def tamper(db_path, *statements: tuple[str, tuple]) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TRIGGER audit_event_append_only_update")
        conn.execute("DROP TRIGGER audit_event_append_only_delete")
        for sql, params in statements:
            conn.execute(sql, params)


def row(db_path, event_id: int) -> dict:
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("SELECT * FROM audit_event WHERE id = ?", (event_id,)).fetchone())


COLUMNS = ("at", "aanpak_id", "type", "actor_id", "from_phase", "to_phase", "reason", "evidence", "payload",
           "prev_hash", "hash")


def test_verify_counts_every_event_through_the_installed_command(sh, history):
    r = sh("audit", "verify")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Verified {history} events: the history is intact.\nHead: event #{history} ")


def test_the_database_itself_refuses_to_update_or_delete_events(history, db_path):
    with sqlite3.connect(db_path) as conn:
        for sql in ("UPDATE audit_event SET reason = 'x' WHERE id = 3", "DELETE FROM audit_event WHERE id = 3"):
            with pytest.raises(sqlite3.IntegrityError, match="audit events are append-only"):
                conn.execute(sql)


def test_an_edited_event_is_pinpointed(run, history, db_path):
    tamper(db_path, ("UPDATE audit_event SET evidence = 'vervalst.pdf' WHERE id = 13", ()))
    r = run("audit", "verify")
    assert r.exit_code == 7
    assert r.stderr == ("Error: The history does not verify: Event #13 was edited or forged: its content does not "
                        "match its hash (12 events before it verify).\n")
    assert r.stdout == ""


def test_an_edited_and_rehashed_event_is_pinpointed(run, history, db_path):
    e = row(db_path, 10)
    e["reason"] = "achteraf toegevoegd"
    tamper(db_path, ("UPDATE audit_event SET reason = ?, hash = ? WHERE id = 10",
                     (e["reason"], audit.chain_hash(e["prev_hash"], {**e, "at": _at(e["at"])}))))
    r = run("audit", "verify")
    assert r.exit_code == 7
    assert r.stderr == ("Error: The history does not verify: Event #10 was edited and re-hashed: event #11 is "
                        "chained to a hash that no event carries any more (9 events before it verify).\n")


def _at(stored: str) -> str:
    from datetime import UTC, datetime

    return datetime.fromisoformat(stored).replace(tzinfo=UTC)  # type: ignore[return-value]


def test_a_deleted_event_is_pinpointed(run, history, db_path):
    tamper(db_path, ("DELETE FROM audit_event WHERE id = 8", ()))
    r = run("audit", "verify")
    assert r.exit_code == 7
    assert r.stderr == ("Error: The history does not verify: Event #8 is missing: deleted from the history "
                        "(event #9 follows #7) (7 events before it verify).\n")


def test_deleting_the_first_events_is_pinpointed(run, history, db_path):
    tamper(db_path, ("DELETE FROM audit_event WHERE id <= 2", ()))
    r = run("audit", "verify")
    assert r.exit_code == 7
    assert "Events #1 to #2 are missing: deleted from the history (event #3 follows the start of the chain)" \
        in r.stderr


def test_a_deleted_event_hidden_by_renumbering_is_pinpointed(run, history, db_path):
    tamper(db_path, ("DELETE FROM audit_event WHERE id = 8", ()),
           ("UPDATE audit_event SET id = id - 1 WHERE id > 8", ()))
    r = run("audit", "verify")
    assert r.exit_code == 7
    assert r.stderr == ("Error: The history does not verify: Event #8 was written as event #9: the event before it "
                        "was deleted and the later ones renumbered (7 events before it verify).\n")


def test_two_swapped_events_are_pinpointed(run, history, db_path):
    a, b = row(db_path, 12), row(db_path, 14)
    sets = ", ".join(f"{c} = ?" for c in COLUMNS)
    tamper(db_path, (f"UPDATE audit_event SET {sets} WHERE id = 12", tuple(b[c] for c in COLUMNS)),
           (f"UPDATE audit_event SET {sets} WHERE id = 14", tuple(a[c] for c in COLUMNS)))
    r = run("audit", "verify")
    assert r.exit_code == 7
    assert r.stderr == ("Error: The history does not verify: Event #12 holds what was written as event #14: "
                        "events were swapped, reordered or inserted before it (11 events before it verify).\n")


def test_an_event_inserted_in_the_middle_is_pinpointed(run, history, db_path):
    """The intruder renumbers the later events and slips a correctly hashed event in at #10."""
    e9 = row(db_path, 9)
    forged = {"id": 10, "at": _at(e9["at"]), "aanpak_id": e9["aanpak_id"], "type": "criterion_approved",
              "actor_id": 5, "from_phase": "initiate", "to_phase": None, "reason": "stilletjes goedgekeurd",
              "evidence": None, "payload": "{}"}
    forged_hash = audit.chain_hash(e9["hash"], forged)
    tamper(db_path, ("UPDATE audit_event SET id = id + 1000 WHERE id >= 10", ()),
           ("UPDATE audit_event SET id = id - 999 WHERE id >= 1000", ()),
           ("INSERT INTO audit_event (id, at, aanpak_id, type, actor_id, from_phase, to_phase, reason, evidence, "
            "payload, prev_hash, hash, leaf) VALUES (10, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (e9["at"], forged["aanpak_id"], forged["type"], forged["actor_id"], forged["from_phase"], None,
             forged["reason"], None, "{}", e9["hash"], forged_hash, event_leaf(forged).hex())))
    r = run("audit", "verify")
    assert r.exit_code == 7
    assert "Event #11 holds what was written as event #10: events were swapped, reordered or inserted before it" \
        in r.stderr


def test_events_cut_from_the_end_are_caught_by_the_kept_head(run, history, db_path):
    kept = run("audit", "head").stdout.split()[0]
    tamper(db_path, (f"DELETE FROM audit_event WHERE id = {history}", ()))
    assert run("audit", "verify").exit_code == 0  # the shortened chain is consistent in itself ...
    r = run("audit", "verify", "--expect-head", kept)
    assert r.exit_code == 7  # ... but the head kept outside the database is gone
    assert r.stderr == (f"Error: The history does not verify: The head you kept ({kept[:16]}…) does not occur in "
                        "the chain: events after it were deleted, or the history was rewritten and re-hashed.\n")


def test_a_kept_head_still_verifies_after_new_events(run, app, aanpak, clock):
    kept = run("audit", "head", "--format", "json").stdout
    import json

    head = json.loads(kept)
    services.complete(app, aanpak, "coalitie", evidence="x", acting=PL)
    services.complete(app, aanpak, "analyse_visie", evidence="y", acting=PL)
    r = run("audit", "verify", "--expect-head", head["hash"])
    assert r.exit_code == 0, r.stderr
    assert f"The head you kept is event #{head['id']}; 2 events were added after it." in r.stdout


def test_expect_head_must_be_a_hash(run, aanpak):
    r = run("audit", "verify", "--expect-head", "abc")
    assert r.exit_code == 2
    assert r.stderr == "Error: --expect-head takes the 64 hexadecimal characters `wijkflow audit head` printed.\n"


def test_an_empty_history_verifies_with_zero_events(run, app):
    r = run("audit", "verify")
    assert (r.exit_code, r.stdout) == (0, "The history is empty: 0 events checked.\n")
    assert run("audit", "head").stdout == f"{audit.GENESIS}  (no events yet)\n"
