"""docs/audit-format.md, implemented again from the text alone (nothing from wijkflow below the line),
checked against the test vectors and against a real database's bundle and checkpoint; and what
`verify` says about stored values wijkflow never writes (a re-written time, wrong types)."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import PL, SG1

from wijkflow import services

VECTORS = json.loads((Path(__file__).parent / "data" / "audit_vectors.json").read_text(encoding="utf-8"))

# --- an independent implementation, written from docs/audit-format.md ------------------------------------

SHORT = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}


def jcs_string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if code in SHORT:
            out.append(SHORT[code])
        elif code < 0x20:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out) + '"'


def jcs(obj: dict) -> bytes:
    def value(v: object) -> str:
        if v is None:
            return "null"
        if isinstance(v, int):
            return str(v)
        assert isinstance(v, str)
        return jcs_string(v)

    return ("{" + ",".join(f"{jcs_string(k)}:{value(obj[k])}" for k in sorted(obj)) + "}").encode("utf-8")


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def text_digest(text: str | None) -> str | None:
    return None if text is None else sha(text.encode("utf-8")).hex()


def committed_of(e: dict) -> dict:
    obj = {k: e[k] for k in ("id", "at", "aanpak_id", "type", "actor_id", "from_phase", "to_phase")}
    for field in ("reason", "evidence", "payload"):
        obj[field + "_sha256"] = e.get(field + "_sha256", text_digest(e.get(field)))
    # Revision 2: the origin's digest, only when the event has an origin (absent, not null, otherwise).
    if e.get("origin_sha256") or e.get("origin") is not None:
        obj["origin_sha256"] = e.get("origin_sha256") or text_digest(e["origin"])
    return obj


def leaf_of(obj: dict) -> bytes:
    return sha(b"\x00" + jcs(obj))


def root_of(leaves: list[bytes]) -> bytes:
    if not leaves:
        return sha(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha(b"\x01" + root_of(leaves[:k]) + root_of(leaves[k:]))


# -----------------------------------------------------------------------------------------------------------


def test_the_vectors_recompute_from_the_document_alone():
    leaves = []
    for v in VECTORS["events"]:
        obj = committed_of(v["event"])
        assert obj == v["committed"]
        assert jcs(obj).decode("utf-8") == v["canonical"]
        assert leaf_of(obj).hex() == v["leaf_hash"]
        line = {**obj, **{f: v["event"][f] for f in ("reason", "evidence", "payload", "origin")
                          if v["event"].get(f) is not None}}
        assert jcs(line).decode("utf-8") == v["bundle_line"]
        leaves.append(leaf_of(obj))
    for r in VECTORS["roots"]:
        assert root_of(leaves[: r["size"]]).hex() == r["root"]


def test_wijkflow_still_computes_the_vectors():
    """The shipped encoding never changes: every proof handed out depends on it."""
    from wijkflow.audit_format import bundle_line, event_leaf

    for v in VECTORS["events"]:
        assert event_leaf(v["event"]).hex() == v["leaf_hash"]
        assert bundle_line(v["event"]) == v["bundle_line"]


def test_revision_2_adds_the_origin_digest_only_to_events_with_an_origin():
    """Events written before revision 2 keep their ten members, so their leaves (and every proof) are unchanged."""
    for v in VECTORS["events"]:
        has_origin = v["event"].get("origin") is not None
        assert ("origin_sha256" in v["committed"]) is has_origin
        assert len(v["committed"]) == (11 if has_origin else 10)
    assert [v["event"]["id"] for v in VECTORS["events"] if "origin" in v["event"]] == [7, 8, 9]


@pytest.fixture
def history(app, aanpak, clock) -> int:
    for key in ("coalitie", "analyse_visie", "lokaal_contract"):
        clock.forward(1, microseconds=123_457)
        services.complete(app, aanpak, key, evidence=f"{key} \"definitief\".pdf\n", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)
    return 15


def test_an_independent_script_recomputes_a_real_bundle_and_matches_audit_checkpoint(run, history, tmp_path):
    r = run("audit", "checkpoint", "--format", "json")
    assert r.exit_code == 0, r.stderr
    cp = json.loads(r.stdout)
    r = run("audit", "export", "--bundle", str(tmp_path / "alles"))
    assert r.exit_code == 0, r.stderr
    lines = (tmp_path / "alles" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == cp["size"] == history
    leaves = []
    for line in lines:
        e = json.loads(line)
        assert jcs(e).decode("utf-8") == line  # each line is itself canonical
        for field in ("reason", "evidence", "payload", "origin"):
            if field in e:
                assert text_digest(e[field]) == e[field + "_sha256"]
        assert "origin" in e  # written by this wijkflow: each event records where it came from
        leaves.append(leaf_of({k: e[k] for k in committed_of(e)}))
    assert root_of(leaves).hex() == cp["root"]
    body = (tmp_path / "alles" / "checkpoint.txt").read_text().split("\n")
    assert base64.b64decode(body[2]).hex() == cp["root"] and int(body[1]) == history
    assert all(json.loads(x)["at"].endswith("Z") and len(json.loads(x)["at"]) == 27 for x in lines)


# --- what is stored must be what wijkflow writes ------------------------------------------------------------


def tamper(db_path, sql: str, params: tuple = ()) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TRIGGER audit_event_append_only_update")
        conn.execute(sql, params)


@pytest.mark.sqlite_only
def test_the_same_instant_written_another_way_is_caught(run, history, db_path, app):
    """The issue's tamper: the same instant with another offset would move the event to another day in
    CSV exports, --until and show --as-of; verify must refuse the spelling, naming the event."""
    app.close()
    with sqlite3.connect(db_path) as conn:
        at = conn.execute("SELECT at FROM audit_event WHERE id = 1").fetchone()[0]
    assert at == "2026-03-02 08:00:00.000000"
    kept = run("audit", "head").stdout.split()[0]
    tamper(db_path, "UPDATE audit_event SET at = '2026-03-03 07:00:00+23:00' WHERE id = 1")
    r = run("audit", "verify", "--expect-head", kept)
    assert r.exit_code == 7
    assert r.stderr == ("Error: The history does not verify: Event #1: its time is stored as "
                        "'2026-03-03 07:00:00+23:00', not in the one form wijkflow writes (YYYY-MM-DD HH:MM:SS.ffffff, "
                        "UTC): it was rewritten outside wijkflow.\n")


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("column", "value", "says"), [
    ("at", "gisteren", ": its time is stored as 'gisteren'"),
    ("at", "2026-02-30 08:00:00.000000", ": its time '2026-02-30 08:00:00.000000' is not a real moment"),
    ("at", 20260302, ": its time is stored as a number"),
    ("reason", b"\x00\xff binary", ": its reason holds binary data, not text"),
    ("evidence", "CAST(X'6166ff' AS TEXT)", ": its evidence holds bytes that are not UTF-8 text"),
    ("aanpak_id", 1.5, ": its aanpak_id is stored as a decimal number '1.5', not a whole number"),
    ("actor_id", "drie", ": its actor_id is stored as text 'drie', not a whole number"),
    ("payload", '{"a": 1}', " was edited or forged: its content does not match its hash"),
    ("type", None, ": its type is empty"),
])
def test_a_stored_value_of_the_wrong_type_exits_7_naming_the_event(run, history, db_path, app, column, value, says):
    app.close()
    with sqlite3.connect(db_path) as conn:  # NOT NULL on type: the table is rebuilt without it by a tamperer
        if value is None:
            conn.execute("PRAGMA writable_schema = ON")
            conn.execute("UPDATE sqlite_master SET sql = replace(sql, 'type VARCHAR NOT NULL', 'type VARCHAR') "
                         "WHERE name = 'audit_event'")
    if isinstance(value, str) and value.startswith("CAST("):
        tamper(db_path, f"UPDATE audit_event SET {column} = {value} WHERE id = 4")
    else:
        tamper(db_path, f"UPDATE audit_event SET {column} = ? WHERE id = 4", (value,))
    r = run("audit", "verify")
    assert r.exit_code == 7, r.stderr
    assert r.stderr.startswith(f"Error: The history does not verify: Event #4{says}"), r.stderr
    assert "Traceback" not in r.stderr


def test_the_raw_csv_export_carries_what_each_leaf_covers(run, history):
    """The issue's auditor matched 0 of 63 hashes from the CSV: it now has aanpak_id, the UTC moment to the
    microsecond and the leaf, enough to recompute every leaf (a CSV cannot tell empty text from none: the
    bundle's JSON Lines can, and is the form to recompute from)."""
    import csv
    import io

    r = run("audit", "query", "--format", "csv", "--raw-csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == history
    for row in rows:
        e = {k: (row[k] or None) for k in ("from_phase", "to_phase", "reason", "evidence", "origin")}
        e.update(id=int(row["id"]), at=row["at_utc"], type=row["type"], payload=row["payload"],
                 aanpak_id=int(row["aanpak_id"]) if row["aanpak_id"] else None,
                 actor_id=int(row["actor_id"]) if row["actor_id"] else None)
        assert leaf_of(committed_of(e)).hex() == row["leaf"], row["id"]
