"""Bulk output (list, audit export) streams rows and shows a progress bar only to a person watching.

The bar goes to stderr when stderr is a terminal and the rows go to a file or a pipe; with
both piped (scripts, CI, cron) stderr stays empty. A real pseudo-terminal, the installed command.
"""

from __future__ import annotations

import csv
import io
import os
import pty
import subprocess

from conftest import ADMIN, PL, wijkflow_command

from wijkflow import services
from wijkflow.cli.render import as_csv, as_json


def portfolio(app, n: int = 3) -> None:
    for i in range(n):
        services.create_aanpak(app, f"Wijkaanpak {i}", wijk=f"Wijk {i}", gemeente="Hengelo", leader=PL, acting=PL)


def watched(db_url: str, tmp_path, *args: str) -> tuple[str, str]:
    """Run with stdout to a file and stderr on a terminal; (stdout, what the terminal showed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
    env.update({"WIJKFLOW_DATABASE_URL": db_url, "WIJKFLOW_USER": ADMIN, "WIJKFLOW_CONFIG": "",
                "WIJKFLOW_NOW": "2026-03-02T09:00:00+01:00"})
    out_path = tmp_path / "out.txt"
    master, slave = pty.openpty()
    with open(out_path, "w") as out:
        proc = subprocess.Popen([*wijkflow_command(), *args], stdout=out, stderr=slave, env=env)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0, shown
    return out_path.read_text(), shown.decode(errors="replace")


def test_list_streams_the_same_json_and_csv_as_before(app, people, run):
    portfolio(app)
    rows = services.list_aanpakken(app)
    assert run("list", "--format", "json").stdout == as_json(rows) + "\n"
    assert run("list", "--format", "csv").stdout == as_csv(rows)
    assert run("list", "--format", "json", "--wijk", "Wijk 1").stdout == as_json(
        services.list_aanpakken(app, wijk="Wijk 1")) + "\n"
    assert run("list", "--format", "json", "--stalled").stdout == "[]\n"


def test_a_progress_bar_only_when_a_person_watches_the_terminal(app, people, db_url, sh, tmp_path):
    portfolio(app)
    out, shown = watched(db_url, tmp_path, "audit", "query", "--format", "csv")
    assert "Exporting events" in shown and "100%" in shown
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) > 3 and "Exporting" not in out  # the rows file has rows only
    out, shown = watched(db_url, tmp_path, "list", "--format", "csv")
    assert "Listing" in shown and len(list(csv.DictReader(io.StringIO(out)))) == 3
    piped = sh("audit", "query", "--format", "csv", user=ADMIN)
    assert piped.returncode == 0 and piped.stderr == "" and piped.stdout.count("\n") == len(rows) + 1
    piped = sh("list", "--format", "csv", user=ADMIN)
    assert piped.returncode == 0 and piped.stderr == ""
