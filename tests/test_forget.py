"""`people forget`: the person is gone from every byte of the database, and the chain still verifies."""

from __future__ import annotations

import sqlite3

import pytest
from conftest import ADMIN, PL, SG1

from wijkflow import services

# These tests read and alter the SQLite file itself (tampering, bytes on disk): SQLite only.
pytestmark = pytest.mark.sqlite_only

SECRETS = [b"Robert Olde Heuvel", b"robert@welbions.example", b"Olde Heuvel", b"robert@"]


def database_bytes(db_path) -> bytes:
    out = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        f = db_path.with_name(db_path.name + suffix)
        if f.exists():
            out += f.read_bytes()
    return out


def test_forgotten_person_leaves_no_byte_behind_and_the_chain_still_verifies(run, app, aanpak, db_path):
    for key in ("coalitie", "lokaal_contract"):
        services.complete(app, aanpak, key, evidence="doc.pdf", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", comment="akkoord", acting=SG1)
    assert all(s in database_bytes(db_path) for s in SECRETS[:2])  # the test can see them before

    r = run("people", "forget", SG1, user=ADMIN)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ("Erased person #5: their name and email are gone; their 1 role on wijkaanpakken ended; "
                        "the history still verifies.\n")

    app.close()
    with sqlite3.connect(db_path) as conn:  # checkpoint once more, as an auditor would before grepping
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = database_bytes(db_path)
    for secret in SECRETS:
        assert secret not in raw, f"{secret!r} is still in the database file"
        assert secret.lower() not in raw.lower()

    verify = run("audit", "verify")
    assert verify.exit_code == 0, verify.stderr
    history = run("history", aanpak).stdout
    assert "(forgotten person)" in history and "Olde Heuvel" not in history
    gate = run("gate", aanpak).stdout
    assert "approved by (forgotten person)" in gate or "by (forgotten person)" in gate


def test_forgetting_an_unknown_person_is_not_found_and_writes_nothing(run, people, db_path):
    with sqlite3.connect(db_path) as conn:
        before = conn.execute("SELECT count(*) FROM audit_event").fetchone()[0]
    r = run("people", "forget", "nobody@hengelo.example", user=ADMIN)
    assert r.exit_code == 4
    assert r.stderr.startswith("Error: No person with email nobody@hengelo.example")
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM audit_event").fetchone()[0] == before
