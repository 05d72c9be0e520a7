"""Signed checkpoints, inclusion and consistency proofs, the auditor's bundle and the standalone verifier:
each accepts what is genuine and rejects every tamper, naming the event."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PL, SG1

from wijkflow import services
from wijkflow.app import App
from wijkflow.audit_format import event_leaf

KEYS = ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering")


@pytest.fixture
def history(app, aanpak, clock) -> int:
    """An aanpak through its first gate: 17 events."""
    for key in KEYS:
        clock.forward(1)
        services.complete(app, aanpak, key, evidence=f"{key}.pdf", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)
    services.advance(app, aanpak, acting=PL, reason="Lokaal contract getekend")
    return 17


def verifier(bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The verifier as an auditor runs it: the bundle's own verify.py, a plain Python, no wijkflow."""
    return subprocess.run([sys.executable, "-I", str(bundle / "verify.py"), str(bundle), *args],
                          capture_output=True, text=True, timeout=60, cwd=bundle)


def tamper(db_path, *statements: tuple[str, tuple]) -> None:
    with sqlite3.connect(db_path) as conn:
        conn.execute("DROP TRIGGER audit_event_append_only_update")
        conn.execute("DROP TRIGGER audit_event_append_only_delete")
        for sql, params in statements:
            conn.execute(sql, params)


def test_init_makes_a_private_key_outside_the_database_and_audit_key_prints_its_public_half(run, tmp_path):
    db = tmp_path / "nieuw.db"
    key_file = tmp_path / "sleutel" / "audit.pem"
    env = {"WIJKFLOW_DATABASE_URL": str(db), "WIJKFLOW_AUDIT_KEY_FILE": str(key_file)}
    r = run("init", env=env)
    assert r.exit_code == 0, r.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key_file.read_bytes() and b"PRIVATE KEY" not in db.read_bytes()
    k = run("audit", "key", env=env).stdout.strip()
    origin, kid, b64 = k.split("+", 2)
    assert origin.startswith("wijkflow/") and len(kid) == 8 and len(b64) == 44
    assert run("init", env=env).exit_code == 0 and run("audit", "key", env=env).stdout.strip() == k  # kept


def test_checkpoint_prove_and_verify_against_a_kept_checkpoint(run, history, tmp_path, app, clock):
    r = run("audit", "checkpoint")
    assert r.exit_code == 0, r.stderr
    note = r.stdout
    lines = note.split("\n")
    assert lines[0].startswith("wijkflow/") and lines[1] == "17" and lines[3].startswith("time 2026-")
    assert lines[4] == "" and lines[5].startswith("\u2014 " + lines[0] + " ")
    kept = tmp_path / "checkpoint.txt"
    kept.write_text(note)
    services.add_person(app, "nieuw@hengelo.example", name="Nieuw", acting="admin@hengelo.example")
    r = run("audit", "verify", "--checkpoint", str(kept))
    assert r.exit_code == 0, r.stderr
    assert "The checkpoint you kept covers 17 events, unchanged; 1 event was added after it." in r.stdout
    proof = json.loads(run("audit", "prove", "5").stdout)
    assert proof["tree_size"] == 17 and proof["leaf_index"] == 4 and len(proof["hashes"]) == 5
    assert run("audit", "checkpoint").exit_code == 0
    consistency = json.loads(run("audit", "prove", "--from", str(kept)).stdout)
    assert (consistency["old_size"], consistency["tree_size"]) == (17, 18) and consistency["hashes"]
    assert run("audit", "prove", "99").exit_code == 4  # no such event
    r = run("audit", "prove")
    assert r.exit_code == 2 and "Give either EVENT or --from" in r.stderr


def test_a_forged_checkpoint_signature_is_refused(run, history, tmp_path):
    note = run("audit", "checkpoint").stdout
    lines = note.split("\n")
    forged = tmp_path / "forged.txt"
    forged.write_text("\n".join([lines[0], "17", lines[2].replace(lines[2][:4], "AAAA"), *lines[3:]]))
    r = run("audit", "verify", "--checkpoint", str(forged))
    assert (r.exit_code, r.stderr) == (7, "Error: The checkpoint is not genuine: its signature does not verify: it "
                                          "was altered or forged.\n")
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("hallo\n")
    r = run("audit", "verify", "--checkpoint", str(garbage))
    assert r.exit_code == 2 and r.stderr.startswith("Error: The checkpoint cannot be read:")
    r = run("audit", "verify", "--checkpoint", str(tmp_path / "er-niet.txt"))
    assert r.exit_code == 2 and "cannot be read" in r.stderr


def test_a_checkpoint_or_consistency_proof_from_another_database_is_refused(run, history, tmp_path, clock):
    other = tmp_path / "ander.db"
    env = {"WIJKFLOW_DATABASE_URL": str(other)}
    assert run("init", env=env).exit_code == 0
    assert run("people", "add", "ada@elders.example", "--name", "Ada", "--role", "admin", env=env).exit_code == 0
    theirs = tmp_path / "theirs.txt"
    theirs.write_text(run("audit", "checkpoint", env=env).stdout)
    assert run("audit", "checkpoint").exit_code == 0
    for args in (("audit", "verify", "--checkpoint", str(theirs)), ("audit", "prove", "--from", str(theirs))):
        r = run(*args)
        assert r.exit_code == 7 and "is from another log (wijkflow/" in r.stderr, r.stderr


@pytest.mark.sqlite_only
def test_events_cut_from_the_end_or_a_rewritten_history_fail_against_the_kept_checkpoint(run, history, tmp_path,
                                                                                          db_path, app):
    kept = tmp_path / "kept.txt"
    kept.write_text(run("audit", "checkpoint").stdout)
    app.close()
    tamper(db_path, ("DELETE FROM audit_event WHERE id = 17", ()), ("DELETE FROM audit_checkpoint", ()))
    assert run("audit", "verify").exit_code == 0  # consistent in itself ...
    r = run("audit", "verify", "--checkpoint", str(kept))
    assert (r.exit_code, r.stderr) == (7, "Error: The history does not verify: The checkpoint you kept covers 17 "
                                          "events, but only 16 are left: events were cut off the end.\n")
    # Rewrite event 3 with every hash recomputed (chain and leaves): only the checkpoint can tell.
    from wijkflow import audit

    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT * FROM audit_event ORDER BY id")]
    rows[2]["evidence"] = "ander-bewijs.pdf"
    prev = rows[1]["hash"]
    statements = []
    for r in rows[2:]:
        event = {**r, "at": datetime.fromisoformat(r["at"]).replace(tzinfo=UTC)}
        r["prev_hash"], r["hash"] = prev, audit.chain_hash(prev, event)
        r["leaf"] = event_leaf(event).hex()
        prev = r["hash"]
        statements.append(("UPDATE audit_event SET evidence = ?, prev_hash = ?, hash = ?, leaf = ? WHERE id = ?",
                           (r["evidence"], r["prev_hash"], r["hash"], r["leaf"], r["id"])))
    with sqlite3.connect(db_path) as conn:
        for sql, params in statements:
            conn.execute(sql, params)
    assert run("audit", "verify").exit_code == 0
    r = run("audit", "verify", "--checkpoint", str(kept))
    assert r.exit_code == 7 and "The checkpoint you kept" in r.stderr


# --- the auditor's bundle and the standalone verifier ---------------------------------------------------


@pytest.fixture
def bundle(run, history, tmp_path) -> Path:
    out = tmp_path / "bundel"
    r = run("audit", "export", "--bundle", str(out), "--aanpak", "wijkaanpak-noord", "--type", "criterion_completed",
            "--type", "phase_changed")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith(f"Wrote 5 events with their proofs to {out} (checkpoint of 17 events; key wijkflow/")
    (tmp_path / "trusted-key.txt").write_text(run("audit", "key").stdout)
    return out


def test_the_verifier_is_small_standalone_and_printed_by_audit_verifier(run):
    source = run("audit", "verifier").stdout
    assert len(source.splitlines()) < 150
    assert "wijkflow import" not in source and "import wijkflow" not in source
    imports = {line.split()[1] for line in source.splitlines() if line.startswith(("import ", "from "))}
    assert imports <= {"argparse", "base64", "hashlib", "json", "sys", "pathlib"}


def test_the_verifier_accepts_an_untampered_bundle(bundle, tmp_path):
    assert sorted(p.name for p in bundle.iterdir()) == ["checkpoint.txt", "events.jsonl", "key.txt", "proofs.jsonl",
                                                        "selection.txt", "verify.py"]
    r = verifier(bundle, "--key", str(tmp_path / "trusted-key.txt"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("OK: 5 events of wijkflow/") and "signed checkpoint of 17 events" in r.stdout


def edit_events(bundle: Path, change) -> None:
    path = bundle / "events.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("".join(x + "\n" for x in change(lines)), encoding="utf-8")


def event_line(line: str, **changes) -> str:
    return json.dumps({**json.loads(line), **changes}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(("change", "says"), [
    (lambda ls: [ls[0], event_line(ls[1], evidence="ander.pdf"), *ls[2:]],
     "Event #{1} was edited: its evidence does not match its digest"),
    (lambda ls: [ls[0], event_line(ls[1], type="criterion_approved"), *ls[2:]],
     "Event #{1} was edited or does not belong to this log: its inclusion proof does not verify"),
    (lambda ls: [ls[0], event_line(ls[1], at="2026-03-01T08:00:00.000000Z"), *ls[2:]],
     "Event #{1} was edited or does not belong to this log"),
    (lambda ls: [ls[0], *ls[2:]], "Event #{1} was removed from the bundle: the signed selection lists it"),
    (lambda ls: [*ls, event_line(ls[-1], id=16)], "Event #16 was added: the signed selection does not list it"),
    (lambda ls: [ls[0], ls[0], *ls[1:]], "Event #{0} was added"),
])
def test_the_verifier_rejects_each_tamper_naming_the_event(bundle, tmp_path, change, says):
    ids = [json.loads(x)["id"] for x in (bundle / "events.jsonl").read_text().splitlines()]
    edit_events(bundle, change)
    r = verifier(bundle, "--key", str(tmp_path / "trusted-key.txt"))
    assert r.returncode == 1
    assert r.stdout.startswith("FAILED: " + says.format(*ids)), r.stdout + r.stderr


def test_the_verifier_rejects_a_forged_signature_and_another_key(bundle, tmp_path, run):
    cp = (bundle / "checkpoint.txt").read_text().split("\n")
    (bundle / "checkpoint.txt").write_text("\n".join([cp[0], "18", *cp[2:]]))
    r = verifier(bundle, "--key", str(tmp_path / "trusted-key.txt"))
    assert r.returncode == 1 and r.stdout.startswith("FAILED: The checkpoint is not signed by the key wijkflow/")
    other = tmp_path / "other-key.txt"
    assert run("init", env={"WIJKFLOW_DATABASE_URL": str(tmp_path / "b.db")}).exit_code == 0
    other.write_text(run("audit", "key", env={"WIJKFLOW_DATABASE_URL": str(tmp_path / "b.db")}).stdout)
    r = verifier(bundle, "--key", str(other))
    assert r.returncode == 1 and r.stdout.startswith("FAILED: The checkpoint is from another log (wijkflow/")


def test_the_verifier_checks_consistency_and_refuses_another_databases_checkpoint(bundle, tmp_path, run, app):
    old = tmp_path / "old.txt"
    old.write_text((bundle / "checkpoint.txt").read_text())
    services.add_person(app, "nieuw@hengelo.example", name="Nieuw", acting="admin@hengelo.example")
    run("audit", "checkpoint")
    proof = tmp_path / "consistency.json"
    proof.write_text(run("audit", "prove", "--from", str(old)).stdout)
    key = str(tmp_path / "trusted-key.txt")
    r = verifier(bundle, "--key", key, "--consistency", str(proof))
    assert r.returncode == 0 and "OK: the log of 18 events extends the older checkpoint of 17 events." in r.stdout
    # The proof with the old checkpoint swapped for another database's one.
    env = {"WIJKFLOW_DATABASE_URL": str(tmp_path / "ander.db")}
    run("init", env=env)
    run("people", "add", "ada@elders.example", "--name", "Ada", "--role", "admin", env=env)
    data = json.loads(proof.read_text())
    data["old_checkpoint"] = run("audit", "checkpoint", env=env).stdout
    proof.write_text(json.dumps(data))
    r = verifier(bundle, "--key", key, "--consistency", str(proof))
    assert r.returncode == 1 and "FAILED: The older checkpoint is from another log (wijkflow/" in r.stdout
    # A genuine old checkpoint with a proof that does not lead from it.
    data = json.loads(run("audit", "prove", "--from", str(old)).stdout)
    data["hashes"][0] = "00" * 32
    proof.write_text(json.dumps(data))
    r = verifier(bundle, "--key", key, "--consistency", str(proof))
    assert r.returncode == 1 and "does not extend the older checkpoint of 17" in r.stdout


def test_bundle_output_paths_follow_the_rules(run, history, tmp_path, db_state):
    before = db_state()
    (tmp_path / "vol").mkdir()
    (tmp_path / "vol" / "notities.txt").write_text("x")
    (tmp_path / "een-bestand.txt").write_text("x")
    cases = [(str(tmp_path / "vol"), "holds other files"), (str(tmp_path / "een-bestand.txt"),
                                                             "exists and is not a directory"),
             (str(tmp_path / "nergens" / "b"), "does not exist")]
    os.symlink(tmp_path / "vol", tmp_path / "link")
    cases.append((str(tmp_path / "link"), "is a symbolic link"))
    for target, says in cases:
        r = run("audit", "export", "--bundle", target)
        assert r.exit_code == 2 and says in r.stderr and r.stderr.count("\n") == 1, r.stderr
    r = run("audit", "export", "--bundle", str(tmp_path / "b"), "--since", "2026-05-01", "--until", "2026-04-01")
    assert r.exit_code == 2 and not (tmp_path / "b").exists()
    assert db_state() == before


def test_a_database_from_before_revision_0005_gets_leaves_and_its_old_head_still_verifies(db_url, clock, tmp_path):
    from test_schema_migrations import old_database

    old_database(db_url, clock)
    app = App.open(db_url, clock=clock, audit_key_file=str(tmp_path / "k.pem"))
    import sqlalchemy as sa

    engine = sa.create_engine(db_url if "://" in db_url else f"sqlite:///{db_url}")
    with engine.connect() as conn:
        head = conn.exec_driver_sql("SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1").scalar()
    engine.dispose()
    app.db.upgrade()
    from wijkflow.services.audit import verify
    from wijkflow.services.audit_log import make_checkpoint

    v = verify(app, expect_head=head)
    assert v["expected_head_at"] == v["head_id"] and v["tree_size"] == v["checked"] > 10
    assert make_checkpoint(app)["root"] == v["root"]
    app.close()


# --- retention and erasure keep every proof valid -------------------------------------------------------


def test_purge_erases_old_content_and_every_proof_still_verifies(run, history, tmp_path, app, clock):
    kept = tmp_path / "kept.txt"
    kept.write_text(run("audit", "checkpoint").stdout)
    before_bundle = tmp_path / "voor"
    assert run("audit", "export", "--bundle", str(before_bundle)).exit_code == 0
    proof = run("audit", "prove", "8").stdout
    clock.forward(400)
    r = run("audit", "purge", "--before", "2026-03-05", "--reason", "Selectielijst 2020, 1.1.2", user=PL)
    assert (r.exit_code, r.stderr) == (5, "Error: Only an administrator may purge the history (a retention "
                                          "decision).\n")
    r = run("audit", "purge", "--before", "2026-03-05", "--reason", "Selectielijst 2020, 1.1.2",
            user="admin@hengelo.example")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith("Erased the content of ") and "event #18 records the purge" in r.stdout
    with app.db.read() as conn:
        rows = conn.execute(sa.text("SELECT reason, evidence, payload, erased FROM audit_event WHERE id <= 8")).all()
    assert all(tuple(r[:3]) == (None, None, "{}") and r[3] for r in rows)
    v = run("audit", "verify", "--checkpoint", str(kept))
    assert v.exit_code == 0, v.stderr
    assert json.loads(run("audit", "prove", "8").stdout)["hashes"] == json.loads(proof)["hashes"]
    after = tmp_path / "na"
    assert run("audit", "export", "--bundle", str(after)).exit_code == 0
    assert verifier(after).returncode == 0
    lines = (after / "events.jsonl").read_text().splitlines()
    erased = [json.loads(x) for x in lines if "evidence_sha256" in x and '"evidence":' not in x
              and json.loads(x)["evidence_sha256"]]
    assert erased and all("payload" not in e and "reason" not in e for e in erased)
    old_lines = (before_bundle / "events.jsonl").read_text().splitlines()
    committed = ("id", "at", "aanpak_id", "type", "actor_id", "from_phase", "to_phase", "reason_sha256",
                 "evidence_sha256", "payload_sha256")
    assert [{k: json.loads(x)[k] for k in committed} for x in old_lines] == \
        [{k: json.loads(x)[k] for k in committed} for x in lines[:len(old_lines)]]
    r = run("audit", "query", "--type", "audit_purged", "--format", "json")
    assert '"reason": "Selectielijst 2020, 1.1.2"' in r.stdout


@pytest.mark.parametrize(("before", "reason", "says"), [
    ("2027-01-01", "x", "lies in the future"), ("gisteren", "x", "gisteren"), ("2026-03-05", "  ", "--reason"),
])
def test_purge_bad_input_changes_nothing(run, history, db_state, before, reason, says):
    state = db_state()
    r = run("audit", "purge", "--before", before, "--reason", reason, user="admin@hengelo.example")
    assert r.exit_code == 2 and says in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert db_state() == state


@pytest.mark.sqlite_only
def test_the_database_allows_only_erasure_and_verify_wants_a_recorded_purge(history, db_path, run, app):
    app.close()
    with sqlite3.connect(db_path) as conn:
        for sql in ("UPDATE audit_event SET reason = NULL, evidence = NULL, payload = '{}', erased = '{}', "
                    "origin = NULL, type = 'x' WHERE id = 8",
                    "UPDATE audit_event SET reason = 'anders' WHERE id = 8",
                    # the origin goes with the content or not at all (revision 0008) ...
                    "UPDATE audit_event SET reason = NULL, evidence = NULL, payload = '{}', erased = '{}' WHERE id = 8",
                    # ... and is never changed otherwise
                    "UPDATE audit_event SET origin = '{\"via\":\"web\"}' WHERE id = 8",
                    "UPDATE audit_event SET origin = NULL WHERE id = 8"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(sql)
        row = conn.execute("SELECT reason, evidence, payload, origin FROM audit_event WHERE id = 8").fetchone()
        digests = {f"{k}_sha256": None if v is None else __import__("hashlib").sha256(v.encode()).hexdigest()
                   for k, v in zip(("reason", "evidence", "payload", "origin"), row, strict=True)}
        conn.execute("UPDATE audit_event SET reason = NULL, evidence = NULL, payload = '{}', origin = NULL, erased = ? "
                     "WHERE id = 8", (json.dumps(digests, sort_keys=True, separators=(",", ":")),))
    r = run("audit", "verify")
    assert (r.exit_code, r.stderr) == (7, "Error: The history does not verify: Event #8's content was erased, but no "
                                          "`audit purge` recorded after it covers that.\n")


# --- periodic checkpoints from the scheduler ------------------------------------------------------------


def test_the_scheduler_signs_a_checkpoint_daily_and_mails_it(run, history, tmp_path, clock, app):
    def events_now() -> int:
        with app.db.read() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM audit_event")).scalar_one())

    env = {"WIJKFLOW_CHECKPOINT_MAIL_TO": "accountant@example.nl"}
    r = run("scheduler", "run", "--once", env=env)
    assert r.exit_code == 0, r.stderr
    # The checkpoint is signed after the sweep, so it covers the history and every event the sweep
    # wrote (the phase change's notifications sent and reminders cancelled), all the events there are.
    size = events_now()
    assert size > history
    assert f"audit checkpoint: {size} events signed, mailed to accountant@example.nl" in r.stderr
    mails = [m.read_text() for m in sorted((tmp_path / "outbox").glob("*.eml"))]
    to_accountant = [text for text in mails if "accountant@example.nl" in text]
    assert len(to_accountant) == 1
    assert f"wijkflow audit checkpoint: {size} events" in to_accountant[0]
    clock.forward(hours=23)
    assert "audit checkpoint" not in run("scheduler", "run", "--once", env=env).stderr  # not due yet
    clock.forward(hours=2)
    r = run("scheduler", "run", "--once", env={"WIJKFLOW_CHECKPOINT_EVERY_HOURS": "24"})
    assert f"audit checkpoint: {events_now()} events signed" in r.stderr and "mailed" not in r.stderr
    clock.forward(hours=100)
    assert "audit checkpoint" not in run("scheduler", "run", "--once",
                                         env={"WIJKFLOW_CHECKPOINT_EVERY_HOURS": "0"}).stderr
    r = run("scheduler", "run", "--once", env={"WIJKFLOW_CHECKPOINT_EVERY_HOURS": "soms"})
    assert r.exit_code == 2 and "WIJKFLOW_CHECKPOINT_EVERY_HOURS must be a number of hours" in r.stderr
    stored = run("audit", "verify", "--format", "json")
    assert stored.exit_code == 0  # the stored checkpoints are checked by every verify
