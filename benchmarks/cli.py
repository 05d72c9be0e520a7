"""CLI start-up benchmark: the wall time people feel on every command.

Compares, in the same run and with the same interpreter:
  `wijkflow show REF`  against  `python -c "import sqlmodel"`  (the floor for any SQLModel program)
  `wijkflow --help`    against  `python -c "import click"`
Targets: <= 1.3x and <= 2x. Medians of several runs.

    python benchmarks/cli.py [--runs 15]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WIJKFLOW = [str(Path(sys.executable).with_name("wijkflow"))]


def one(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def paired(cmd: list[str], base: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Medians of `runs` runs each, alternating the two commands run by run, so a busy moment on
    the machine lands on both sides instead of on whichever happened to run then."""
    ours, floor = [], []
    for _ in range(runs):
        ours.append(one(cmd, env))
        floor.append(one(base, env))
    return statistics.median(ours), statistics.median(floor)


def compile_bytecode() -> None:
    """`pip install .` compiles wijkflow's bytecode; an editable install under PYTHONDONTWRITEBYTECODE
    (as on this machine) never does, and would be timed compiling its own sources each run."""
    import wijkflow

    compileall.compile_dir(str(Path(wijkflow.__file__).parent), quiet=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    compile_bytecode()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "WIJKFLOW_DATABASE_URL": str(Path(tmp) / "w.db"), "WIJKFLOW_USER": "pl@x.nl"}
        for cmd in (["people", "add", "pl@x.nl", "--name", "PL"],
                    ["new", "Wijkaanpak Noord", "--wijk", "Noord", "--leader", "pl@x.nl"]):
            subprocess.run(WIJKFLOW + cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        pairs = [
            ("wijkflow show REF", WIJKFLOW + ["show", "wijkaanpak-noord"],
             'python -c "import sqlmodel"', [sys.executable, "-c", "import sqlmodel"], 1.3),
            ("wijkflow --help", WIJKFLOW + ["--help"],
             'python -c "import click"', [sys.executable, "-c", "import click"], 2.0),
        ]
        print(f"CLI start-up, median of {args.runs} runs each (the two commands of a pair alternate run by run; "
              "wijkflow's bytecode compiled, as an install does)")
        print(f"{'command':<22}{'ms':>8}   {'baseline':<28}{'ms':>8}{'ratio':>8}{'target':>8}")
        for name, cmd, base_name, base, target in pairs:
            one(cmd, env), one(base, env)  # warm the page cache
            ours, floor = paired(cmd, base, env, args.runs)
            ratio = ours / floor
            verdict = "met" if ratio <= target else "MISSED"
            print(f"{name:<22}{ours * 1000:>8.0f}   {base_name:<28}{floor * 1000:>8.0f}{ratio:>7.2f}x"
                  f"{'<= ' + str(target) + 'x':>9} {verdict}")


if __name__ == "__main__":
    main()
