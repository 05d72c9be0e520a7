"""The reliability scenarios, shared by `tests/reliability/` (small counts) and `benchmarks/soak.py` (long runs).

Every scenario returns the figures it held (commands, kills, messages, events, lost) so the
soak script can print them and the tests can assert on them. Worker functions live at module
level: they run in other processes (multiprocessing spawn / forkserver) and must be importable.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
import traceback
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from wijkflow import WijkflowError, services
from wijkflow.app import App
from wijkflow.definitions import load_file, shipped_dir

DEFINITION = load_file(shipped_dir() / "wijkaanpak.yaml")
PL = "fleur@hengelo.example"
WR = "erna@hengelo.example"
SG1 = "robert@welbions.example"
SG2 = "jennifer@hengelo.example"
ADMIN = "admin@hengelo.example"
BASE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# Which audit events a successful command writes: exactly one each (no override is ever used here).
EVENTS_OF = {"complete": ("criterion_completed",), "approve": ("criterion_approved",),
             "advance": ("phase_changed",), "measure": ("measurement_recorded",),
             "new": ("aanpak_created", "role_assigned"), "deadline": ("deadline_set",)}
# Counts scale with WIJKFLOW_RELIABILITY_SCALE (default 1: what CI runs, about two minutes per engine).
SCALE = float(os.environ.get("WIJKFLOW_RELIABILITY_SCALE", "1") or 1)


def scaled(n: int) -> int:
    return max(1, round(n * SCALE))
EXIT_CODES = {0, 2, 3, 4, 5, 6, 7}
MESSAGE_STATES = {"pending", "sending", "sent", "failed"}
REMINDER_STATES = {"pending", "queued", "cancelled"}


def record(scenario: str, url: str, **figures: Any) -> None:
    """Append what a scenario held to the file WIJKFLOW_RELIABILITY_SUMMARY names (README's figures come
    from there: `python benchmarks/reliability_summary.py FILE`); nothing when it is not set."""
    path = os.environ.get("WIJKFLOW_RELIABILITY_SUMMARY")
    if path:
        engine = "sqlite" if "://" not in url or url.startswith("sqlite") else "postgresql"
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"scenario": scenario, "engine": engine, "scale": SCALE, **figures},
                                default=str) + "\n")


def sa_url(url: str) -> str:
    return url if "://" in url else f"sqlite:///{url}"


# --- setting up ---------------------------------------------------------------------------------


def seed(url: str, *, aanpakken: int = 3, now: datetime = BASE, phase: str | None = None,
         since: str | None = None) -> list[str]:
    """People, and `aanpakken` wijkaanpakken each with an indicator that has a baseline."""
    app = App.open(url, clock=lambda: now)
    try:
        app.db.init()
        services.add_person(app, ADMIN, name="Ada Admin", role="admin")
        for email, name in ((PL, "Fleur Mensink"), (WR, "Erna Biezenaar"), (SG1, "Robert Olde Heuvel"),
                            (SG2, "Jennifer Havinga")):
            services.add_person(app, email, name=name, acting=ADMIN)
        return add_aanpakken(app, aanpakken, phase=phase, since=since)
    finally:
        app.close()


def add_aanpakken(app: App, n: int, *, phase: str | None = None, since: str | None = None,
                  prefix: str = "Wijk") -> list[str]:
    refs = []
    start = len(services.list_aanpakken(app))
    for i in range(start, start + n):
        extra = {"phase": phase, "since": since} if phase else {}
        a = services.create_aanpak(app, f"{prefix} {i}", wijk=f"{prefix} {i}", gemeente="Hengelo", leader=PL,
                                   coordinators=(WR,), approvers=(SG1, SG2), acting=PL, **extra)
        services.add_indicator(app, a["slug"], "veiligheid", label="Veiligheidsbeleving", baseline=6.1,
                               acting=PL)
        refs.append(a["slug"])
    return refs


def moving_clock(t0: float, days_per_second: float):
    """One clock for every process: wall time since t0, sped up, so time passes between commands."""
    return lambda: BASE + timedelta(days=(time.time() - t0) * days_per_second)


# --- one command ----------------------------------------------------------------------------------


def _phase(app: App, ref: str) -> str:
    with app.db.read() as conn:
        return conn.execute(sa.text("SELECT phase FROM aanpak WHERE slug = :s"), {"s": ref}).scalar_one()


def pick(rng: random.Random, phase: str) -> tuple[str, dict[str, Any]]:
    """A command that makes sense in `phase` (it may still be refused: that is part of the test)."""
    outgoing = DEFINITION.outgoing(phase)
    keys = [k for t in outgoing for k in t.gate]
    deliverables = [k for k in keys if DEFINITION.criteria[k].kind == "deliverable"]
    approvals = [k for k in keys if DEFINITION.criteria[k].kind == "approval"]
    roll = rng.random()
    if roll < 0.05:
        return "new", {"name": f"Nieuw {rng.getrandbits(48):012x}"}
    if roll < 0.12 and keys:
        due = (BASE + timedelta(days=rng.randrange(3000, 3400))).date().isoformat()  # after the moving clock
        return "deadline", {"key": rng.choice(keys), "date": due}
    roll = rng.random()
    if roll < 0.35 and deliverables:
        return "complete", {"key": rng.choice(deliverables), "evidence": f"https://docs.example/{rng.randrange(99)}"}
    if roll < 0.6 and approvals:
        return "approve", {"key": rng.choice(approvals), "acting": rng.choice((SG1, SG2))}
    if roll < 0.85 and outgoing:
        return "advance", {"to": rng.choice(outgoing).dest}
    return "measure", {"value": f"{rng.uniform(0, 10):.1f}"}


def run_service(app: App, ref: str, command: str, args: dict[str, Any]) -> Any:
    if command == "complete":
        return services.complete(app, ref, args["key"], evidence=args["evidence"], acting=PL)
    if command == "approve":
        return services.approve(app, ref, args["key"], acting=args["acting"])
    if command == "advance":
        return services.advance(app, ref, to=args["to"], acting=PL)
    if command == "new":
        return services.create_aanpak(app, args["name"], wijk=args["name"], gemeente="Hengelo", leader=PL, acting=PL)
    if command == "deadline":
        return services.set_deadline(app, ref, args["key"], args["date"], acting=PL)
    return services.measure(app, ref, "veiligheid", args["value"], acting=PL)


def cli_args(ref: str, command: str, args: dict[str, Any]) -> list[str]:
    if command == "complete":
        return ["--as", PL, "complete", ref, args["key"], "--evidence", args["evidence"]]
    if command == "approve":
        return ["--as", args["acting"], "approve", ref, args["key"]]
    if command == "advance":
        return ["--as", PL, "advance", ref, "--to", args["to"]]
    if command == "new":
        return ["--as", PL, "new", args["name"], "--wijk", args["name"], "--gemeente", "Hengelo", "--leader", PL]
    if command == "deadline":
        return ["--as", PL, "deadline", ref, args["key"], args["date"]]
    return ["--as", PL, "measure", ref, "veiligheid", args["value"]]


# --- 1. concurrent writers --------------------------------------------------------------------------


def writer(url: str, refs: list[str], n: int, seed_: int, t0: float, speed: float) -> dict[str, Any]:
    """One process issuing `n` mixed commands through the Python API. Returns what happened."""
    rng = random.Random(seed_)
    app = App.open(url, clock=moving_clock(t0, speed))
    ok: Counter[str] = Counter()
    refused: Counter[int] = Counter()
    crashes: list[str] = []
    conflicts: Counter[str] = Counter()
    command = "?"
    slowest = 0.0
    started = time.time()
    try:
        for _ in range(n):
            ref = rng.choice(refs)
            t = time.time()
            try:
                command, args = pick(rng, _phase(app, ref))
                run_service(app, ref, command, args)
                ok[command] += 1
            except WijkflowError as exc:
                if exc.exit_code not in EXIT_CODES:
                    crashes.append(f"exit {exc.exit_code}: {exc}")
                refused[exc.exit_code] += 1
                if exc.exit_code == 6:
                    conflicts[f"{command}: {exc}"] += 1
            except Exception:  # noqa: BLE001 - exactly what this test looks for
                crashes.append(traceback.format_exc())
            slowest = max(slowest, time.time() - t)
    finally:
        app.close()
    return {"ok": dict(ok), "refused": dict(refused), "crashes": crashes, "slowest": slowest,
            "conflicts": dict(conflicts), "seconds": time.time() - started}


def cli_writer(url: str, refs: list[str], n: int, seed_: int, t0: float, speed: float,
               env: dict[str, str]) -> dict[str, Any]:
    """The same mix through the installed `wijkflow` command, one subprocess per command."""
    rng = random.Random(seed_)
    clock = moving_clock(t0, speed)
    app = App.open(url)
    ok: Counter[str] = Counter()
    refused: Counter[int] = Counter()
    crashes: list[str] = []
    try:
        for _ in range(n):
            ref = rng.choice(refs)
            command, args = pick(rng, _phase(app, ref))
            proc = subprocess.run([*wijkflow_command(), *cli_args(ref, command, args)], capture_output=True,
                                  text=True, timeout=60, env={**env, "WIJKFLOW_NOW": clock().isoformat()})
            if proc.returncode == 0:
                ok[command] += 1
            else:
                refused[proc.returncode] += 1
            if proc.returncode not in EXIT_CODES or "Traceback" in proc.stderr + proc.stdout:
                crashes.append(f"exit {proc.returncode}: {proc.stderr}")
    finally:
        app.close()
    return {"ok": dict(ok), "refused": dict(refused), "crashes": crashes}


def processes_context() -> Any:
    """Fresh processes (spawn semantics: no inherited connections or threads), forked from a server that
    imported wijkflow once: 8 workers start in milliseconds instead of 1.5 s of imports each."""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["wijkflow.services", "wijkflow.services.audit", "wijkflow.reminders.sweep",
                                "wijkflow.definitions"])
    return ctx


def wijkflow_command() -> list[str]:
    script = Path(sys.executable).with_name("wijkflow")
    return [str(script)] if script.exists() else [sys.executable, "-m", "wijkflow"]


def cli_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
    env.update({"WIJKFLOW_DATABASE_URL": url, "WIJKFLOW_CONFIG": ""}, **extra)
    return env


def concurrent_writers(url: str, *, processes: int = 8, commands: int = 200, cli_processes: int = 2,
                       cli_commands: int = 8, aanpakken: int = 3, speed: float = 40.0) -> dict[str, Any]:
    """`processes` x `commands` through the API and `cli_processes` x `cli_commands` through the CLI, at once."""
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    refs = seed(url, aanpakken=aanpakken)
    before = event_counts(url)
    t0 = time.time()
    mp = processes_context()
    with ProcessPoolExecutor(processes, mp_context=mp) as pool, ThreadPoolExecutor(max(cli_processes, 1)) as threads:
        api = [pool.submit(writer, url, refs, commands, 1000 + i, t0, speed) for i in range(processes)]
        cli = [threads.submit(cli_writer, url, refs, cli_commands, 2000 + i, t0, speed, cli_env(url))
               for i in range(cli_processes)]
        results = [f.result() for f in api] + [f.result() for f in cli]
    after = event_counts(url)
    ok: Counter[str] = Counter()
    refused: Counter[int] = Counter()
    for r in results:
        ok.update(r["ok"])
        refused.update({int(k): v for k, v in r["refused"].items()})
    new_events = {t: after.get(t, 0) - before.get(t, 0) for t in set(after) | set(before)}
    return {"processes": processes, "commands": processes * commands + cli_processes * cli_commands,
            "cli_commands": cli_processes * cli_commands,
            "ok": dict(ok), "refused": dict(refused), "crashes": [c for r in results for c in r["crashes"]],
            "new_events": {t: n for t, n in new_events.items() if n},
            "conflicts": dict(sum((Counter(r.get("conflicts", {})) for r in results), Counter())),
            "slowest": max(r.get("slowest", 0) for r in results),
            "worker_seconds": max(r.get("seconds", 0) for r in results),
            "expected_events": dict(sum((Counter({e: n for e in EVENTS_OF[c]}) for c, n in ok.items()),
                                        Counter()))}


# --- checks after every scenario ---------------------------------------------------------------------


def event_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(sa_url(url))
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.text("SELECT type, count(*) FROM audit_event GROUP BY type")).all())
    finally:
        engine.dispose()


def check_invariants(url: str) -> dict[str, Any]:
    """DESIGN.md invariants 1-5 on whatever is stored; raises AssertionError naming the first that fails."""
    engine = sa.create_engine(sa_url(url))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
            q = lambda sql, **p: conn.execute(sa.text(sql), p)  # noqa: E731
            for a in q("SELECT id, phase FROM aanpak").all():
                latest = q("SELECT to_phase FROM audit_event WHERE aanpak_id = :a AND to_phase IS NOT NULL "
                           "ORDER BY id DESC LIMIT 1", a=a.id).scalar()
                assert a.phase == latest, f"invariant 1: aanpak {a.id} is in {a.phase}, its history says {latest}"
                for raw in q("SELECT payload FROM audit_event WHERE aanpak_id = :a AND type = 'phase_changed'",
                             a=a.id).scalars():
                    p = json.loads(raw)
                    assert p["override"] or all(c["met"] or c["optional"] for c in p["gate"]), \
                        f"invariant 2: aanpak {a.id} moved with an unmet gate: {p}"
            count = lambda sql: q(sql).scalar_one()  # noqa: E731
            pairs = [
                ("criterion_record", "SELECT count(*) FROM criterion_record",
                 "SELECT count(*) FROM audit_event WHERE type IN ('criterion_completed', 'criterion_approved')"),
                ("measurement", "SELECT count(*) FROM measurement",
                 "SELECT count(*) FROM audit_event WHERE type = 'measurement_recorded'"),
                ("indicator", "SELECT count(*) FROM indicator",
                 "SELECT count(*) FROM audit_event WHERE type = 'indicator_added'"),
                ("aanpak", "SELECT count(*) FROM aanpak", "SELECT count(*) FROM audit_event WHERE type = "
                 "'aanpak_created'"),
                ("sent message", "SELECT count(*) FROM reminder_message WHERE status = 'sent'",
                 "SELECT count(*) FROM audit_event WHERE type = 'reminder_sent'"),
                ("failed message", "SELECT count(*) FROM reminder_message WHERE status = 'failed'",
                 "SELECT count(*) FROM audit_event WHERE type = 'reminder_failed'"),
            ]
            for what, rows_sql, events_sql in pairs:
                rows, events = count(rows_sql), count(events_sql)
                assert rows == events, f"invariant 3: {rows} {what} rows but {events} events"
            reminders = dict(q("SELECT status, count(*) FROM reminder GROUP BY status").all())
            lost = count("SELECT count(*) FROM reminder r WHERE r.status = 'queued' AND NOT EXISTS "
                         "(SELECT 1 FROM reminder_message m WHERE m.reminder_id = r.id)")
            assert lost == 0, f"invariant 5: {lost} reminders queued without a message"
            silent = count("SELECT count(*) FROM reminder_message WHERE status = 'failed' AND error IS NULL")
            assert silent == 0, f"invariant 5: {silent} failed messages without the error"
            messages = dict(q("SELECT status, count(*) FROM reminder_message GROUP BY status").all())
            assert set(reminders) <= REMINDER_STATES, f"invariant 5: reminder states {reminders}"
            assert set(messages) <= MESSAGE_STATES, f"invariant 5: message states {messages}"
            events = count("SELECT count(*) FROM audit_event")
        if events:
            with engine.connect() as conn:
                try:
                    with conn.begin():
                        conn.execute(sa.text("UPDATE audit_event SET reason = 'altered' WHERE id = 1"))
                    raise AssertionError("invariant 4: an audit event could be updated")
                except sa.exc.DBAPIError:
                    pass
    finally:
        engine.dispose()
    app = App.open(url)
    try:
        verdict = services_audit().verify(app)
    finally:
        app.close()
    return {"events": events, "checked": verdict["checked"], "reminders": reminders, "messages": messages}


def services_audit() -> Any:
    from wijkflow.services import audit

    return audit


# --- 2. crash at any point ------------------------------------------------------------------------------


def smtp_flags(port: int, timeout: float = 2.0) -> dict[str, Any]:
    return {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none", "smtp_timeout": timeout,
            "mail_from": "wijkflow@hengelo.example"}


def advancer(url: str, refs: list[str], t0: float, speed: float, ready: Any) -> None:
    """Advance a batch of aanpakken (complete, approve, measure, advance) until killed."""
    rng = random.Random(os.getpid())
    app = App.open(url, clock=moving_clock(t0, speed))
    ready.set()
    while True:
        ref = rng.choice(refs)
        try:
            run_service(app, ref, *pick(rng, _phase(app, ref)))
        except WijkflowError:
            pass


def sweeper(url: str, port: int, now_iso: str, ready: Any) -> None:
    """The scheduler's work, sweep after sweep, until killed."""
    from wijkflow.reminders.sweep import sweep

    now = datetime.fromisoformat(now_iso)
    app = App.open(url, clock=lambda: now, **smtp_flags(port))
    ready.set()
    while True:
        sweep(app)


def message_states(url: str) -> dict[str, str]:
    """message_id -> status of every reminder message."""
    engine = sa.create_engine(sa_url(url))
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.text("SELECT message_id, status FROM reminder_message")).all())
    finally:
        engine.dispose()


def kill_at_random(ctx: Any, target: Any, args: tuple, rng: random.Random, most: float) -> int:
    """Start `target` in a fresh process, let it work a random moment, kill -9. Returns its exit code."""
    import signal

    ready = ctx.Event()
    proc = ctx.Process(target=target, args=(*args, ready), daemon=True)
    proc.start()
    if not ready.wait(30):
        proc.kill()
        raise AssertionError(f"{target.__name__} did not start")
    time.sleep(rng.uniform(0, most))  # real time on purpose: the kill must land at a random moment
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    return proc.exitcode


def outbox_rows(url: str) -> dict[int, tuple[str, str]]:
    """id -> (Message-ID, status) of every outbox row. Rows, not Message-IDs, are what is counted: the
    rows of a digest share its Message-ID."""
    engine = sa.create_engine(sa_url(url))
    try:
        with engine.connect() as conn:
            return {i: (mid, status) for i, mid, status in
                    conn.execute(sa.text("SELECT id, message_id, status FROM reminder_message")).all()}
    finally:
        engine.dispose()


def carried(rows: dict[int, tuple[str, str]], message_id: str) -> list[int]:
    """The outbox rows a message at the server stands for: the rows stamped with its Message-ID, one, or every
    row of a digest (the sweep stamps a digest's rows with <digest.FIRST.PERSON@domain> when it first claims
    them, so a resend carries the same rows under the same Message-ID). [] for a message no row stands for."""
    message_id = message_id.strip()  # a long id may arrive folded onto its own line
    return sorted(i for i, (mid, _) in rows.items() if mid == message_id)


def received_rows(url: str, messages: list[Any]) -> dict[str, list[int]]:
    rows = outbox_rows(url)
    return {str(m["Message-ID"]).strip(): carried(rows, str(m["Message-ID"])) for m in messages}


def kill_sending(url: str, server: Any, now: datetime, rng: random.Random, most: float, *,
                 digest: bool = False) -> int | None:
    """Start a real `wijkflow reminders send` at `now`; once the server has taken a message from it (the
    sweep is sending), wait a random moment and kill -9. Its exit code: -9, or 0 when it finished first."""
    import signal

    env = cli_env(url, WIJKFLOW_NOW=now.isoformat(), WIJKFLOW_SMTP_HOST="127.0.0.1",
                  WIJKFLOW_SMTP_PORT=str(server.port), WIJKFLOW_SMTP_SECURITY="none", WIJKFLOW_SMTP_TIMEOUT="2",
                  WIJKFLOW_MAIL_FROM="wijkflow@hengelo.example", WIJKFLOW_MAIL_DIGEST="1" if digest else "0")
    seen = len(server.messages)
    proc = subprocess.Popen([*wijkflow_command(), "reminders", "send"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while len(server.messages) == seen and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    time.sleep(rng.uniform(0, most))  # real time on purpose: the kill must land at a random moment
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -9 or not err, err
    return proc.returncode


def crash_at_any_point(url: str, *, kills: int = 50, due_aanpakken: int = 8, batch: int = 4, most: float = 0.15,
                       sweep_most: float = 0.1, seed_: int = 7, server: Any = None) -> dict[str, Any]:
    """Kill -9 an advancing process and a sending scheduler, alternately, `kills` times in all.

    After every kill: the database opens, integrity and invariants 1-5 hold, the chain verifies.
    At the end one clean sweep takes over stale claims; at the server, counted by Message-ID for every
    outbox row it carried, no row is missing and only a row that was in flight when a kill fell is there twice.
    """
    rng = random.Random(seed_)
    refs = seed(url, aanpakken=batch)
    app = App.open(url, clock=lambda: BASE)
    try:
        add_aanpakken(app, due_aanpakken, phase="monitor", since="2025-07-01", prefix="Monitor")
    finally:
        app.close()
    ctx = processes_context()
    # The server takes a moment per message (well within the timeout), as a real one does over a network:
    # a sweep then spends most of its time between claim, accept and record, where kills matter.
    server.handler.mode, server.handler.delay = "slow", 0.02
    t0 = time.time()
    held = Counter()
    in_flight: set[str] = set()
    now = BASE
    for i in range(kills):
        if i % 2 == 0:
            code = kill_at_random(ctx, advancer, (url, refs, t0, 40.0), rng, most)
            held["advancer kills"] += 1
        else:
            now += timedelta(hours=2)  # later than STALE_AFTER: the next sweep takes over dead claims
            more = App.open(url, clock=lambda at=now: at)
            try:  # six more messages due in every round, so that kills keep landing mid-send
                add_aanpakken(more, 1, phase="monitor", since="2025-07-01", prefix=f"Ronde {i}")
            finally:
                more.close()
            before = len(server.messages)
            digest = i % 4 == 1  # every other scheduler sends digests (one message per person and day)
            code = kill_sending(url, server, now, rng, sweep_most, digest=digest)
            if code == -9:
                held["scheduler kills"] += 1
                held["digest kills"] += digest
            else:
                held["schedulers that finished before the kill"] += 1
            states = {i: status for i, (_, status) in outbox_rows(url).items()}
            rows = received_rows(url, server.messages[before:])  # this sweep's messages -> the rows they carried
            stuck = {mid: ids for mid, ids in rows.items() if any(states.get(r) == "sending" for r in ids)}
            assert len(stuck) <= 1, f"more than one message between accept and record at one kill: {stuck}"
            in_flight |= {r for ids in stuck.values() for r in ids}  # accepted; the killed sweep never recorded it
            held["sent by killed schedulers"] = sum(1 for s in states.values() if s == "sent")
            if os.environ.get("RELIABILITY_DEBUG"):
                print(i, dict(Counter(states.values())), len(server.messages))
        assert code in (-9, 0), f"the process ended by itself with exit {code}"
        check_invariants(url)
    from wijkflow.reminders.sweep import sweep

    final = App.open(url, clock=lambda: now + timedelta(hours=2), **smtp_flags(server.port))
    try:
        sweep(final)
    finally:
        final.close()
    result = check_invariants(url)
    outbox = outbox_rows(url)
    states = {i: status for i, (_, status) in outbox.items()}
    # Each message at the server, by Message-ID, counts once for every row it carried.
    at_server = Counter(r for m in server.messages for r in carried(outbox, str(m["Message-ID"])))
    sent = {i for i, status in states.items() if status == "sent"}
    duplicates = {i for i, n in at_server.items() if n > 1}
    return {"kills": kills, **held, "digests": sum(1 for m in server.messages if "digest." in str(m["Message-ID"])),
            "events": result["events"], "messages": len(states),
            "sent": len(sent), "states": dict(Counter(states.values())), "received": sum(at_server.values()),
            "missing": sorted(sent - set(at_server)),
            "unknown": sorted({str(m["Message-ID"]).strip() for m in server.messages
                               if not carried(outbox, str(m["Message-ID"]))}),
            "duplicates": sorted(duplicates), "accepted_not_recorded_at_a_kill": sorted(in_flight)}


# --- 4. downtime --------------------------------------------------------------------------------------


def fortnightly_workflow(folder: Path) -> str:
    """The shipped wijkaanpak with its execute report every two weeks: 100 days down misses seven periods."""
    text = (shipped_dir() / "wijkaanpak.yaml").read_text(encoding="utf-8")
    text = text.replace("name: wijkaanpak\n", "name: wijkaanpak_veertiendaags\n", 1)
    text = text.replace("    phase: execute\n    every: P3M\n", "    phase: execute\n    every: P14D\n", 1)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "veertiendaags.yaml").write_text(text, encoding="utf-8")
    return str(folder)


def reminder_rows(url: str) -> list[Any]:
    engine = sa.create_engine(sa_url(url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT * FROM reminder ORDER BY id")))
    finally:
        engine.dispose()


def _moment(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def downtime(url: str, server: Any, workflows: Path, *, days: int = 100, aanpakken: int = 2) -> dict[str, Any]:
    """Send what is due, stop the scheduler, jump `days` (across the switch to summer time), send again.

    Through the installed `wijkflow reminders send`, the clock set with WIJKFLOW_NOW.
    """
    from zoneinfo import ZoneInfo

    ams = ZoneInfo("Europe/Amsterdam")
    start = datetime(2026, 3, 2, 10, 0, tzinfo=ams).astimezone(UTC)  # summer time starts 29 March 2026
    wf = fortnightly_workflow(workflows)
    seed(url, aanpakken=0, now=start)  # the people
    app = App.open(url, clock=lambda: start, workflows_dir=wf)
    try:
        for i in range(aanpakken):
            common = {"gemeente": "Hengelo", "leader": PL, "coordinators": (WR,), "approvers": (SG1, SG2),
                      "acting": PL}
            services.create_aanpak(app, f"Uitvoering {i}", wijk=f"Oost {i}", workflow="wijkaanpak_veertiendaags",
                                   phase="execute", since="2026-03-02", **common)
            services.create_aanpak(app, f"Monitor {i}", wijk=f"West {i}", phase="monitor", since="2026-03-02",
                                   **common)
            design = services.create_aanpak(app, f"Ontwerp {i}", wijk=f"Zuid {i}", phase="design",
                                            since="2025-08-01", **common)  # stalls (270 days) inside the gap
            services.set_deadline(app, design["slug"], "teams", "2026-04-15", acting=PL)
    finally:
        app.close()
    env = cli_env(url, WIJKFLOW_SMTP_HOST="127.0.0.1", WIJKFLOW_SMTP_PORT=str(server.port),
                  WIJKFLOW_SMTP_SECURITY="none", WIJKFLOW_MAIL_FROM="wijkflow@hengelo.example",
                  WIJKFLOW_WORKFLOWS_DIR=wf)

    def send(at: datetime) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*wijkflow_command(), "reminders", "send"], capture_output=True, text=True,
                              env={**env, "WIJKFLOW_NOW": at.isoformat()}, timeout=120)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        return proc

    send(start)
    before = len(server.messages)
    end = start + timedelta(days=days)
    due_in_gap = [r for r in reminder_rows(url) if r.status == "pending" and _moment(r.due_at) <= end]
    send(end)  # the restart after the downtime
    send(end)  # and once more: nothing is sent twice
    rows = {r.id: r for r in reminder_rows(url)}
    states = message_states(url)
    received = Counter(str(m["Message-ID"]) for m in server.messages[before:])
    nxt = [r for r in rows.values() if r.kind == "every" and r.status == "pending"]
    return {
        "days": days, "due_in_gap": len(due_in_gap),
        "kinds": dict(Counter(r.kind for r in due_in_gap)),
        "still_pending": [r.id for r in due_in_gap if rows[r.id].status == "pending"],
        "cancelled": {r.id: rows[r.id].reason for r in due_in_gap if rows[r.id].status == "cancelled"},
        "every_sent_per_rule": dict(Counter(f"{r.aanpak_id}:{r.rule}" for r in rows.values()
                                            if r.kind == "every" and r.status == "queued")),
        "every_next_period": sorted(r.seq for r in nxt),
        "next_every_due_local": sorted({_moment(r.due_at).astimezone(ams).strftime("%H:%M %Z") for r in nxt}),
        "next_every_after_end": all(_moment(r.due_at) > end for r in nxt),
        "messages": len(states), "states": dict(Counter(states.values())),
        "received": sum(received.values()), "duplicates": sorted(m for m, n in received.items() if n > 1),
        "missing": sorted(m for m, s in states.items() if s == "sent" and m not in received
                          and m not in {str(x["Message-ID"]) for x in server.messages[:before]}),
    }


# --- 3. SMTP faults -----------------------------------------------------------------------------------------


RAW_FAULTS = {"421 at greeting": "greet421", "hang at greeting": "hang", "drop in DATA": "drop_in_data"}
FAULTS = ("down", "421 at greeting", "hang at greeting", "421 at MAIL", "421", "550", "drop in DATA", "drop",
          "554 after DATA", "slow", "kill", "healthy")


def smtp_faults(url: str, server: Any, *, rounds: int = 1, seed_: int = 3) -> dict[str, Any]:
    """The reminders issue's fault matrix as one run: every phase is a scheduler (re)start.

    server down -> 421 -> 550 for one recipient -> connection dropped mid-message -> slower than
    the timeout -> killed mid-send -> a healthy server. Six new messages become due in every phase.
    """
    from fault_servers import FaultServer
    from smtp_server import free_port

    from wijkflow.reminders.sweep import sweep

    rng = random.Random(seed_)
    seed(url, aanpakken=0)
    now = BASE
    faults: Counter[str] = Counter()
    gave_up_on: set[str] = set()  # accepted by the server only after the client had given up waiting
    in_flight: set[str] = set()
    ctx = processes_context()
    for r in range(rounds):
        for fault in FAULTS:
            now += timedelta(hours=7)  # past the longest backoff (6 h) and a dead sweep's claim (1 h)
            app = App.open(url, clock=lambda at=now: at, **smtp_flags(server.port, timeout=0.3))
            try:
                add_aanpakken(app, 1, phase="monitor", since="2025-07-01", prefix=f"{fault} {r}")
            finally:
                app.close()
            handler = server.handler
            handler.mode, handler.delay, handler.refuse = None, 0.0, {}
            port = server.port
            raw = None
            if fault in RAW_FAULTS:  # where aiosmtpd cannot fail: a plain socket server, for this phase
                raw = FaultServer(RAW_FAULTS[fault]).__enter__()
                port = raw.port
            elif fault == "421 at MAIL":
                handler.mode = "mail421"
            elif fault == "554 after DATA":
                handler.mode, handler.reject_after_data = "554", SG1
            elif fault == "down":
                port = free_port()  # nobody listens there
            elif fault == "421":
                handler.mode = "421"
            elif fault == "550":
                handler.refuse = {WR: f"550 5.1.1 <{WR}>: Recipient address rejected"}
            elif fault == "drop":
                handler.mode = "drop"
            elif fault == "slow":
                handler.mode, handler.delay = "slow", 0.6
            faults[fault] += 1
            if fault == "kill":
                handler.mode, handler.delay = "slow", 0.02
                kill_at_random(ctx, sweeper, (url, port, now.isoformat()), rng, 0.8)
                accepted = {str(m["Message-ID"]) for m in server.messages}
                in_flight |= {m for m, s in message_states(url).items() if s == "sending" and m in accepted}
                continue
            app = App.open(url, clock=lambda at=now: at, **smtp_flags(port, timeout=0.3))
            try:
                seen = len(server.messages)
                sweep(app)
            finally:
                app.close()
                if raw is not None:
                    raw.__exit__(None, None, None)
            if fault == "slow":
                time.sleep(handler.delay + 0.2)  # the server answers late: let it finish before looking
                states = message_states(url)
                gave_up_on |= {str(m["Message-ID"]) for m in server.messages[seen:]
                               if states.get(str(m["Message-ID"])) != "sent"}
            handler.mode = None
    check = check_invariants(url)
    states = message_states(url)
    at_server = Counter(str(m["Message-ID"]) for m in server.messages)
    engine = sa.create_engine(sa_url(url))
    try:
        with engine.connect() as conn:
            failed = list(conn.execute(sa.text(
                "SELECT p.email, m.error FROM reminder_message m JOIN person p ON p.id = m.person_id "
                "WHERE m.status = 'failed'")))
    finally:
        engine.dispose()
    return {"faults": dict(faults), "messages": len(states), "states": dict(Counter(states.values())),
            "events": check["events"], "received": sum(at_server.values()),
            "failed_to": sorted({f.email for f in failed}), "failed_errors": sorted({f.error for f in failed}),
            "missing": sorted(m for m, s in states.items() if s == "sent" and m not in at_server),
            "failed_but_delivered": sorted(m for m, s in states.items() if s == "failed" and m in at_server),
            "duplicates": sorted(m for m, n in at_server.items() if n > 1),
            "accepted_not_recorded": sorted(in_flight | gave_up_on)}


# --- another process writing (backups and copies of a live database) ------------------------------------


def write_until(url: str, stop: Path) -> int:
    """Add one person per transaction (one audit event each) until the file `stop` exists; prints
    "ready" after the first write so the caller knows writing has begun."""
    app = App.open(url, clock=lambda: BASE)
    n = 0
    try:
        while not stop.exists():
            services.add_person(app, f"schrijver-{os.getpid()}-{n}@hengelo.example", name=f"Schrijver {n}",
                                acting=ADMIN)
            n += 1
            if n == 1:
                print("ready", flush=True)
            time.sleep(0.005)  # a busy office, not a benchmark: leave the CPU to the process under test
    finally:
        app.close()
    return n


class Writer:
    """`with Writer(url, tmp) as w:` another process writes to `url` the whole time; `w.written` after."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.stop, self.written = url, folder / f"stop-{time.monotonic_ns()}", 0

    def __enter__(self) -> Writer:
        self.proc = subprocess.Popen([sys.executable, __file__, "write", self.url, str(self.stop)],
                                     stdout=subprocess.PIPE, text=True, env=cli_env(self.url))
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.touch()
        out, _ = self.proc.communicate(timeout=60)
        assert self.proc.returncode == 0, f"the writer failed (exit {self.proc.returncode})"
        self.written = int(out.split()[-1])


def chain(url: str) -> list[tuple[int, str]]:
    """(id, hash) of every event, in chain order."""
    engine = sa.create_engine(sa_url(url))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text("SELECT id, hash FROM audit_event ORDER BY id"))]
    finally:
        engine.dispose()


if __name__ == "__main__" and sys.argv[1:2] == ["write"]:
    print(write_until(sys.argv[2], Path(sys.argv[3])), flush=True)
