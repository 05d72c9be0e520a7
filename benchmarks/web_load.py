"""Web benchmark: the aanpak page (GET) and an approval (POST) under concurrent clients, against the
same service calls made in-process, in the same run.

The server is the real one: `wijkflow serve` (uvicorn, one process) on 127.0.0.1 in a subprocess,
on a SQLite file and on a PostgreSQL database. The clients are threads in this process, each with
its own HTTP connection and its own signed-in approver (a session made by
services.signin.start_session, as a login makes one). Per request the latency is timed from send to
the last byte of the answer.

- GET  /aanpak/{slug}: the aanpak page, a random aanpak each time. In-process: the one service the
  page is built from (services.tasks.aanpak_page: the report's data of the aanpak, with gate,
  timeline, indicators and history, and what the visitor may do), without rendering HTML.
- POST /aanpak/{slug}/goedkeuren/lokaal_contract_akkoord: the approve form's second step (the
  confirmation page posts it, with its CSRF token), answered by a 303 to the aanpak page (not
  followed). Every request approves another aanpak, each with its deliverable 'lokaal_contract'
  completed and awaiting this approval. In-process: services.approve on other aanpakken of the
  same database.

Each in-process call runs from as many threads as there are clients (the same concurrency: the
web layer's and HTTP's cost is the difference) and from one thread (each call alone: what the
service itself costs, and what the database does when writers do not queue).

The workload: one aanpak made through the services (projectleider, coordinator, 20 approvers,
the deliverable completed with evidence), cloned in bulk by SQL (benchmarks/portfolio.py), so
a few thousand approvable aanpakken take seconds.

    python benchmarks/web_load.py [--clients 20] [--gets 2000] [--posts 1000] [--pg URL] [--no-pg] [--no-sqlite]

--pg defaults to WIJKFLOW_BENCH_POSTGRES / WIJKFLOW_TEST_POSTGRES (a URL allowed to create
databases); without one only SQLite runs. The client threads share this process's interpreter,
so on a small machine they cost the server some CPU: the numbers are a floor, not a ceiling.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sqlalchemy as sa  # noqa: E402
from portfolio import admin_url, clone, machine, pg_database  # noqa: E402

from wijkflow import services  # noqa: E402
from wijkflow.app import App  # noqa: E402
from wijkflow.services import tasks  # noqa: E402

LEADER = "pl@bench.example"
COORDINATOR = "wr@bench.example"
WARM = 40  # calls before measuring, in every mode
CRITERION = "lokaal_contract_akkoord"  # approves 'lokaal_contract' (wijkaanpak, phase initiate)
DELIVERABLE = "lokaal_contract"


def approver(i: int) -> str:
    return f"sg{i:02d}@bench.example"


# --- the workload -------------------------------------------------------------------------------


@dataclass
class Workload:
    url: str
    slugs: list[str]
    approvers: list[str]


def build(url: str, aanpakken: int, approvers: int) -> Workload:
    """`aanpakken` aanpakken in 'initiate', each with 'lokaal_contract' completed and awaiting approval."""
    app = App.open(url)
    try:
        app.db.init()
        services.add_person(app, LEADER, name="Petra Leider")
        services.add_person(app, COORDINATOR, name="Wim Regisseur")
        people = [approver(i) for i in range(approvers)]
        for i, email in enumerate(people):
            services.add_person(app, email, name=f"Stuurgroeplid {i:02d}")
        made = services.create_aanpak(app, "Aanpak 1", wijk="Wijk 1", gemeente="Bench", leader=LEADER,
                                      coordinators=(COORDINATOR,), approvers=tuple(people), acting=LEADER)
        assert made["slug"] == "aanpak-1", made["slug"]
        services.complete(app, "aanpak-1", DELIVERABLE, evidence="https://intranet.example/contract.pdf",
                          acting=LEADER)
        with app.db.write() as conn:
            clone(conn, aanpakken - 1)  # aanpak rows, roles, pending reminders: ids 2 .. n
            conn.execute(sa.text(
                "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n) "
                "INSERT INTO criterion_record (aanpak_id, visit, criterion, action, person_id, evidence, comment, at) "
                "SELECT 1 + i, visit, criterion, action, person_id, evidence, comment, at "
                "FROM criterion_record, seq WHERE aanpak_id = 1"), {"n": aanpakken - 1})
        if app.db.is_sqlite:
            with app.db.write() as conn:
                conn.exec_driver_sql("ANALYZE")
        else:
            with app.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
    finally:
        app.close()
    return Workload(url, [f"aanpak-{i}" for i in range(1, aanpakken + 1)], people)


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Result:
    what: str
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


def concurrently(what: str, jobs: Sequence[Sequence[Callable[[], None]]]) -> Result:
    """Run each thread's list of calls (one thread per list, started together); time every call."""
    result = Result(what)
    lock = threading.Lock()
    start = threading.Barrier(len(jobs) + 1)

    def worker(calls: Sequence[Callable[[], None]]) -> None:
        mine: list[float] = []
        start.wait()
        for call in calls:
            t0 = time.perf_counter()
            try:
                call()
            except Exception as exc:  # noqa: BLE001 - counted and shown, the run goes on
                with lock:
                    result.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            mine.append(time.perf_counter() - t0)
        with lock:
            result.latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(calls,)) for calls in jobs]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    result.elapsed = time.perf_counter() - t0
    return result


def split(items: Sequence[str], parts: int) -> list[list[str]]:
    return [list(items[i::parts]) for i in range(parts)]


# --- in-process: the same services the pages call --------------------------------------------------


def in_process(url: str, threads: int, gets: Sequence[str], posts: Sequence[str],
               people: Sequence[str]) -> tuple[Result, Result]:
    """The page's service and the approve service called directly, from `threads` threads."""
    app = App.open(url)
    try:
        def page(slug: str, email: str) -> Callable[[], None]:
            return lambda: tasks.aanpak_page(app, slug, email, locale="nl") and None

        def approve(slug: str, email: str) -> Callable[[], None]:
            return lambda: services.approve(app, slug, CRITERION, acting=email) and None

        for slug in gets[:WARM]:  # warm: definitions, modules and the connection pool
            page(slug, people[0])()
        what = f"in-process, {threads} thread{'s' if threads > 1 else ''}"
        got = concurrently(what, [[page(s, people[i % len(people)]) for s in part]
                                  for i, part in enumerate(split(gets, threads))])
        posted = concurrently(what, [[approve(s, people[i % len(people)]) for s in part]
                                     for i, part in enumerate(split(posts, threads))])
    finally:
        app.close()
    return got, posted


# --- over HTTP: the real server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(url: str, tmp: Path) -> Iterator[str]:
    """`wijkflow serve` on 127.0.0.1 in its own process, on `url`; yields its base address."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
    env.update({"WIJKFLOW_DATABASE_URL": url, "WIJKFLOW_COOKIE_SECURE": "false", "WIJKFLOW_CONFIG": "",
                "WIJKFLOW_SESSION_KEY_FILE": str(tmp / "session.key"), "XDG_DATA_HOME": str(tmp / "xdg")})
    script = Path(sys.executable).with_name("wijkflow")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "wijkflow"]
    log = open(tmp / f"serve-{port}.log", "w+b")  # noqa: SIM115 - read back when the server fails
    server = subprocess.Popen([*command, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise SystemExit("wijkflow serve did not start:\n" + log.read().decode(errors="replace")) from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def signed_in(app: App, base: str, email: str):
    """An HTTP client holding `email`'s session cookie, as a sign-in leaves it in a browser: a real session
    (services.signin.start_session), signed with the server's session key (the same key file)."""
    import httpx

    from wijkflow import store
    from wijkflow.services import signin
    from wijkflow.web import identity
    from wijkflow.web.app import session_key

    with app.db.read() as conn:
        person = store.person_by_email(conn, email)
    _, secret = signin.start_session(app, person.id, "link")
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
    client.cookies.set(identity.SESSION_COOKIE, identity.sign(session_key(app), secret, "session"), domain="127.0.0.1")
    return client


CSRF = re.compile(r'name="csrf" value="([^"]+)"|value="([^"]+)" name="csrf"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    if not found:
        raise AssertionError("no csrf field in the page")
    return found.group(1) or found.group(2)


def over_http(url: str, tmp: Path, clients: int, gets: Sequence[str], posts: Sequence[str],
              people: Sequence[str]) -> tuple[Result, Result]:
    app = App.open(url, cookie_secure=False, session_key_file=str(tmp / "session.key"))
    with served(url, tmp) as base:
        sessions = [signed_in(app, base, people[i % len(people)]) for i in range(clients)]
        try:
            def page(client, slug: str) -> Callable[[], None]:
                def call() -> None:
                    r = client.get(f"/aanpak/{slug}")
                    if r.status_code != 200:
                        raise AssertionError(f"GET /aanpak/{slug}: {r.status_code} {r.text[:200]}")
                return call

            first = sessions[0].get(f"/aanpak/{gets[0]}")  # warm: the server's first pages, templates compiled
            assert first.status_code == 200, (first.status_code, first.text[:500])
            for slug in gets[1:WARM]:
                sessions[0].get(f"/aanpak/{slug}")
            # The confirmation page's form carries the token (the same for every page of one session).
            tokens = [csrf_of(c.get(f"/aanpak/{posts[0]}/goedkeuren/{CRITERION}").text) for c in sessions]

            def approve(client, token: str, slug: str) -> Callable[[], None]:
                def call() -> None:
                    r = client.post(f"/aanpak/{slug}/goedkeuren/{CRITERION}",
                                    data={"csrf": token, "comment": "Akkoord"})
                    if r.status_code != 303 or "klaar=approved" not in r.headers.get("location", ""):
                        raise AssertionError(f"POST approve {slug}: {r.status_code} {r.text[:300]}")
                return call

            what = f"HTTP, {clients} clients"
            got = concurrently(what, [[page(c, s) for s in part]
                                      for c, part in zip(sessions, split(gets, clients), strict=True)])
            posted = concurrently(what, [[approve(c, tok, s) for s in part] for c, tok, part
                                         in zip(sessions, tokens, split(posts, clients), strict=True)])
        finally:
            for c in sessions:
                c.close()
            app.close()
    return got, posted


# --- the run -----------------------------------------------------------------------------------------


def check_approved(url: str, slugs: Sequence[str]) -> int:
    """How many of `slugs` the database holds approved (every POST must have landed)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ids = [int(s.rsplit("-", 1)[1]) for s in slugs]
            return int(conn.execute(sa.text(
                "SELECT count(DISTINCT aanpak_id) FROM criterion_record WHERE action = 'approved' "
                "AND criterion = :c AND aanpak_id IN (" + ",".join(map(str, ids)) + ")"), {"c": CRITERION}).scalar())
    finally:
        engine.dispose()


def line(engine: str, request: str, r: Result, base: Result) -> str:
    ratio = f"{r.rate / base.rate:.2f}x" if base.rate else ""
    return (f"{engine:<11}{request:<20}{r.what:<26}{r.rate:>8.0f}{r.pct(0.5):>9.1f}{r.pct(0.99):>9.1f}"
            f"{ratio:>9}{len(r.errors):>8}")


def run_engine(engine: str, url: str, tmp: Path, args: argparse.Namespace) -> list[str]:
    """Build the workload, then: in-process with 1 thread, in-process with N threads, over HTTP with N clients."""
    n = 3 * args.posts + 1
    t0 = time.perf_counter()
    w = build(url, n, args.clients)
    print(f"  {engine}: {n} aanpakken built in {time.perf_counter() - t0:.1f} s", flush=True)
    rnd = random.Random(18)
    gets = [rnd.choice(w.slugs) for _ in range(args.gets)]
    # Each mode approves its own aanpakken (an approval is given once).
    post_sets = [w.slugs[1 + i * args.posts:1 + (i + 1) * args.posts] for i in range(3)]
    one = in_process(url, 1, gets, post_sets[0], w.approvers)
    many = in_process(url, args.clients, gets, post_sets[1], w.approvers)
    served_ = over_http(url, tmp, args.clients, gets, post_sets[2], w.approvers)
    for results in (one, many, served_):
        for r in results:
            if r.errors:
                print(f"  {engine}, {r.what}: {len(r.errors)} errors, the first: {r.errors[0]}", flush=True)
    landed = check_approved(url, post_sets[2])
    print(f"  {engine}: {landed} of {len(post_sets[2])} approvals over HTTP are in the database", flush=True)
    out = []
    for i, request in enumerate(("GET /aanpak/{slug}", "POST approve")):
        base = many[i]
        out += [line(engine, request, served_[i], base), line(engine, request, many[i], base),
                line(engine, request, one[i], base)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--gets", type=int, default=2000)
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--pg", "--postgres", default=admin_url(), help="PostgreSQL URL allowed to create databases "
                    "[env WIJKFLOW_BENCH_POSTGRES, WIJKFLOW_TEST_POSTGRES]")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    pg = None if args.no_pg else args.pg
    print("machine:", machine(pg), flush=True)
    print(f"web benchmark: {args.gets} GETs of the aanpak page, {args.posts} POSTs each approving another aanpak; "
          f"`wijkflow serve` (uvicorn, one process) with {args.clients} concurrent clients, beside the same "
          f"services called in-process from {args.clients} threads and from 1", flush=True)
    lines = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if not args.no_sqlite:
            lines += run_engine("SQLite", f"sqlite:///{tmp / 'web.db'}", tmp, args)
        if pg:
            with pg_database(pg) as url:
                lines += run_engine("PostgreSQL", url, tmp, args)
    print()
    print(f"{'engine':<11}{'request':<20}{'how':<26}{'per s':>8}{'p50 ms':>9}{'p99 ms':>9}{'vs in-p.':>9}{'errors':>8}")
    for text in lines:
        print(text)
    print(f"vs in-p.: the rate against the same service in-process from {args.clients} threads. Latency is per "
          "request, from sending to the last byte (in-process: the call).")


if __name__ == "__main__":
    main()
