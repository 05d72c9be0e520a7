"""Remote CLI start-up: `wijkflow show REF` against a running server, beside `python -c "import click"`.

Issue 18's target: within 3x the wall time of importing click, since the client needs no SQLAlchemy
or pydantic (cli/remote.py). A real server (uvicorn on 127.0.0.1, in a thread of this process) over
a SQLite file with one aanpak; the installed `wijkflow` command as a user runs it. Medians of several
runs, the two commands alternating run by run. Also printed: what the client imported (python
-X importtime), and how much of the time the server's own answer takes.

    python benchmarks/remote_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

WIJKFLOW = [str(Path(sys.executable).with_name("wijkflow"))]
TARGET = 3.0


def one(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def serve(db: str) -> tuple[str, str, object]:
    """A served App on 127.0.0.1 with one aanpak; (base URL, a token of its projectleider, the uvicorn server)."""
    import uvicorn

    from wijkflow import services
    from wijkflow.app import App
    from wijkflow.services import signin
    from wijkflow.web.app import create_app

    app = App.open(db)
    app.db.init()
    services.add_person(app, "pl@x.nl", name="Fleur Mensink")
    services.create_aanpak(app, "Wijkaanpak Noord", wijk="Noord", leader="pl@x.nl", acting="pl@x.nl")
    token = signin.create_token(app, "pl@x.nl", "benchmark")["token"]
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(app, key=os.urandom(32)), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False, lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{port}", token, server


def imported(env: dict[str, str]) -> tuple[set[str], list[tuple[int, str]]]:
    """Top-level packages the client imported, and its most expensive imports (cumulative microseconds)."""
    r = subprocess.run(WIJKFLOW + ["show", "wijkaanpak-noord"], env={**env, "PYTHONPROFILEIMPORTTIME": "1"},
                       capture_output=True, text=True, check=True)
    rows = []
    for line in r.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _self, cumulative, name = line[len("import time:"):].split("|")
            rows.append((int(cumulative), name.rstrip()))
    tops = {name.strip().split(".")[0] for _c, name in rows}
    outermost = [(c, n.strip()) for c, n in rows if not n.startswith("  ")]  # imported by the program itself
    return tops, sorted(outermost, reverse=True)[:8]


def server_answer_ms(url: str, token: str, runs: int) -> float:
    body = json.dumps({"argv": ["show", "wijkaanpak-noord"], "files": {}, "width": 80}).encode()
    times = []
    for _ in range(runs):
        req = urllib.request.Request(url + "/api/cli", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        t0 = time.perf_counter()
        with urllib.request.urlopen(req) as r:
            r.read()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    import compileall

    import wijkflow

    compileall.compile_dir(str(Path(wijkflow.__file__).parent), quiet=1)  # as `pip install .` does
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_DATA_HOME"] = str(Path(tmp) / "data")  # the audit key of this throw-away install
        url, token, server = serve(str(Path(tmp) / "w.db"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
        env.update({"WIJKFLOW_SERVER": url, "WIJKFLOW_TOKEN": token})
        show, click_ = WIJKFLOW + ["show", "wijkaanpak-noord"], [sys.executable, "-c", "import click"]
        one(show, env), one(click_, env)  # warm the page cache
        ours, floor = [], []
        for _ in range(args.runs):
            ours.append(one(show, env))
            floor.append(one(click_, env))
        remote_ms, click_ms = statistics.median(ours) * 1000, statistics.median(floor) * 1000
        ratio = remote_ms / click_ms
        answer = server_answer_ms(url, token, args.runs)
        tops, heaviest = imported(env)
        server.should_exit = True  # type: ignore[attr-defined]
    print(f"Remote CLI start-up, median of {args.runs} runs each (alternating; bytecode compiled)")
    print(f"{'command':<36}{'ms':>8}")
    baseline = 'python -c "import click"'
    print(f"{baseline:<36}{click_ms:>8.0f}")
    print(f"{'wijkflow show REF (remote)':<36}{remote_ms:>8.0f}")
    print(f"{'  of which the server answering':<36}{answer:>8.0f}")
    print(f"ratio {ratio:.2f}x (target <= {TARGET:g}x): {'met' if ratio <= TARGET else 'MISSED'}")
    heavy = sorted(tops & {"sqlalchemy", "pydantic", "pydantic_core", "sqlmodel", "alembic", "starlette", "email"})
    print(f"client imported {len(tops)} top-level modules; of the heavy ones: {', '.join(heavy) or 'none'}")
    print("its costliest imports (cumulative ms): " + ", ".join(f"{n} {c / 1000:.1f}" for c, n in heaviest))


if __name__ == "__main__":
    main()
