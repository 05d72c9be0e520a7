"""Sweep benchmark: does a sweep's cost follow what is due, or the size of the portfolio?

One sweep (fan-out, claim, render every message, record it; a memory mailer, so no SMTP) that
finds 100 due reminder occurrences among 1,000 aanpakken, and the same among 100,000; every
aanpak has pending reminders, only 100 of them are due. The baseline is the small portfolio
in the same run. Target: big / small <= 1.5. Medians of several runs, each on a fresh copy.

    python benchmarks/sweep.py [--runs 5] [--big 100000] [--postgres ADMIN_URL]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from portfolio import NOW, admin_url, build, pg_database, sqlite_copy, sqlite_template  # noqa: E402

from wijkflow.app import App  # noqa: E402
from wijkflow.reminders.mailers import MemoryMailer  # noqa: E402
from wijkflow.reminders.sweep import sweep  # noqa: E402

DUE = 100
RULE = ("metingen_vastleggen",)  # one occurrence per due aanpak -> 100 due occurrences


def one_sweep(url: str) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, messages) for one sweep."""
    app = App.open(url, clock=lambda: NOW)
    mailer = MemoryMailer()
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        result = sweep(app, mailer=mailer)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        app.close()
    assert result.queued == DUE and result.sent == len(mailer.sent) > 0, result.as_dict()
    return wall, cpu, result.sent


@contextmanager
def sqlite_copies(size: int, tmp: Path) -> Iterator[Callable[[], Any]]:
    template = sqlite_template(tmp / f"template-{size}.db", size, due=DUE, rules=RULE)
    yield lambda: sqlite_copy(template)


@contextmanager
def pg_copies(admin: str, size: int) -> Iterator[Callable[[], Any]]:
    with pg_database(admin) as template_url:
        build(template_url, size, due=DUE, rules=RULE).close()
        template = template_url.rsplit("/", 1)[1]
        yield lambda: pg_database(admin, template=template)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--big", type=int, default=100_000)
    ap.add_argument("--postgres", default=admin_url(), help="admin URL of a PostgreSQL server (also "
                    "WIJKFLOW_BENCH_POSTGRES / WIJKFLOW_TEST_POSTGRES); without it SQLite only")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    engines = ([] if args.no_sqlite else ["sqlite"]) + (["postgresql"] if args.postgres else [])
    print(f"sweep benchmark: {DUE} due reminder occurrences among N aanpakken, one sweep rendering every "
          f"message (memory mailer), median of {args.runs} runs")
    print(f"{'engine':<12}{'N':>9}{'messages':>10}{'wall ms':>10}{'ratio':>8}{'CPU ms':>9}{'ratio':>8}"
          f"{'target':>11}")
    for engine in engines:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            copies = {size: stack.enter_context(sqlite_copies(size, Path(tmp)) if engine == "sqlite"
                                                else pg_copies(args.postgres, size))
                      for size in (args.small, args.big)}
            samples: dict[int, list[tuple[float, float, int]]] = {size: [] for size in copies}
            for _ in range(args.runs):  # interleaved, so both sizes share the machine's noise
                for size, fresh in copies.items():
                    with fresh() as url:
                        samples[size].append(one_sweep(url))
        wall = {size: statistics.median(s[0] for s in runs) for size, runs in samples.items()}
        cpu = {size: statistics.median(s[1] for s in runs) for size, runs in samples.items()}
        for size, runs in samples.items():
            ratio, cpu_ratio = wall[size] / wall[args.small], cpu[size] / cpu[args.small]
            verdict = "" if size == args.small else ("met" if ratio <= 1.5 else "MISSED")
            print(f"{engine:<12}{size:>9}{runs[0][2]:>10}{wall[size] * 1000:>10.0f}{ratio:>7.2f}x"
                  f"{cpu[size] * 1000:>9.0f}{cpu_ratio:>7.2f}x"
                  f"{'<= 1.5x' if size != args.small else '(baseline)':>11} {verdict}", flush=True)
    print(f"peak memory (whole process, incl. building the portfolios): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
