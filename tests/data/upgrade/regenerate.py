"""Make (or remake) one upgrade fixture: a small SQLite database written by an earlier wijkflow.

    python tests/data/upgrade/regenerate.py COMMIT NAME [--python PATH] [--keep]

COMMIT is checked out with `git worktree add` into a temporary directory, installed into a
venv there (or run with --python, a venv that already has that commit installed), and its own
`wijkflow` command plays the same story every fixture holds: five people, three aanpakken
(Noord through initiate and design into execute, Zuid into design, Klarendal imported in
monitor), deadlines, indicators with measurements, and, for versions that had reminders, the
reminders due by then sent to an .eml outbox. Commands a version did not have are skipped.

Written to tests/data/upgrade/: NAME.db (one file, no WAL), and NAME/ with what that version
itself printed for list/show/history/indicators in JSON, plus manifest.json (commit, audit head
and event count at creation, row counts). tests/test_upgrade_fixtures.py upgrades each fixture
to head and holds the current wijkflow to what the old one printed.

Every future schema change adds its fixture: land it, then run this on the landing commit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

ADMIN, PL, WR, SG1, SG2 = ("admin@hengelo.example", "fleur@hengelo.example", "erna@hengelo.example",
                           "robert@welbions.example", "jennifer@hengelo.example")
PEOPLE = [(ADMIN, "Ada Admin"), (PL, "Fleur Mensink"), (WR, "Erna Biezenaar"), (SG1, "Robert Olde Heuvel"),
          (SG2, "Jennifer Havinga")]
REFS = ("wijkaanpak-noord", "wijkaanpak-zuid", "klarendal")


class Story:
    def __init__(self, wijkflow: Path, work: Path) -> None:
        self.wijkflow = wijkflow
        self.db = work / "fixture.db"
        # The outbox path is written into the sent events: one fixed path keeps a fixture reproducible.
        outbox = Path(tempfile.gettempdir()) / "wijkflow-fixture-outbox"
        shutil.rmtree(outbox, ignore_errors=True)
        outbox.mkdir()
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")},
                    "HOME": str(work / "home"), "WIJKFLOW_DATABASE_URL": str(self.db),
                    "WIJKFLOW_OUTBOX_DIR": str(outbox), "WIJKFLOW_TIMEZONE": "Europe/Amsterdam",
                    "XDG_CONFIG_HOME": str(work / "home" / ".config")}
        (work / "home").mkdir(exist_ok=True)
        self.help = self.run("--help").stdout

    def at(self, when: str) -> None:
        self.env["WIJKFLOW_NOW"] = when

    def run(self, *args: str, user: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        argv = [str(self.wijkflow)] + (["--as", user] if user else []) + list(args)
        r = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise SystemExit(f"{' '.join(argv[1:])} exited {r.returncode}: {r.stderr.strip()}")
        return r

    def has(self, command: str) -> bool:
        return any(line.split()[:1] == [command] for line in self.help.splitlines())

    def satisfy(self, ref: str) -> None:
        """Meet every criterion of the next gate that a person can meet by acting."""
        gate = json.loads(self.run("gate", ref, "--format", "json").stdout)
        for c in gate["criteria"]:
            if c["met"]:
                continue
            if c["kind"] == "deliverable":
                self.run("complete", ref, c["key"], "--evidence", f"https://hengelo.example/{ref}/{c['key']}.pdf",
                         user=PL)
            elif c["kind"] == "indicators":
                self.run("indicator", "add", ref, "bewoners", "--label", "Actieve bewoners", "--unit", "aantal",
                         "--baseline", "40", "--target", "60", user=WR)
        gate = json.loads(self.run("gate", ref, "--format", "json").stdout)
        for c in gate["criteria"]:
            if not c["met"] and c["kind"] == "approval":
                self.run("approve", ref, c["key"], "--comment", "Akkoord namens de stuurgroep", user=SG1)

    def play(self) -> None:
        self.at("2026-01-05T09:00:00+01:00")
        self.run("init")
        self.run("people", "add", ADMIN, "--name", "Ada Admin", "--role", "admin")
        for email, name in PEOPLE[1:]:
            self.run("people", "add", email, "--name", name, user=ADMIN)
        team = ["--leader", PL, "--coordinator", WR, "--approver", SG1, "--approver", SG2]
        self.at("2026-01-06T10:00:00+01:00")
        self.run("new", "Wijkaanpak Noord", "--wijk", "Noord", "--gemeente", "Hengelo", *team, user=PL)
        self.run("new", "Wijkaanpak Zuid", "--wijk", "Zuid", "--gemeente", "Hengelo", *team, user=PL)
        self.run("new", "Klarendal", "--wijk", "Klarendal", "--gemeente", "Arnhem", *team,
                 "--phase", "monitor", "--since", "2025-11-03", user=PL)
        self.run("deadline", "wijkaanpak-noord", "coalitie", "2026-02-02", user=PL)
        self.at("2026-01-20T11:00:00+01:00")
        self.satisfy("wijkaanpak-noord")
        self.run("advance", "wijkaanpak-noord", "--reason", "Lokaal contract getekend", user=PL)
        self.run("indicator", "add", "klarendal", "veiligheid", "--label", "Veiligheidsbeleving", "--unit",
                 "rapportcijfer", "--baseline", "6.1", "--target", "7", user=WR)
        self.at("2026-02-16T14:30:00+01:00")
        self.satisfy("wijkaanpak-zuid")
        self.run("advance", "wijkaanpak-zuid", "--reason", "Coalitie staat", user=PL)
        self.run("deadline", "wijkaanpak-zuid", "uitvoeringsprogramma", "2026-06-30", user=PL)
        self.run("measure", "klarendal", "veiligheid", "6.4", "--date", "2026-02-10", "--source", "Wijkmonitor",
                 user=WR)
        self.at("2026-03-09T09:15:00+01:00")
        self.satisfy("wijkaanpak-noord")
        self.run("measure", "wijkaanpak-noord", "bewoners", "46", "--source", "Telling",
                 user=WR)
        self.run("advance", "wijkaanpak-noord", "--reason", "Uitvoeringsprogramma vastgesteld", user=PL)
        if self.has("reminders"):
            self.at("2026-04-14T09:30:00+02:00")
            self.run("reminders", "send")

    def outputs(self, into: Path) -> None:
        into.mkdir(parents=True, exist_ok=True)
        (into / "list.json").write_text(self.run("list", "--format", "json").stdout)
        for ref in REFS:
            for command in ("show", "history", "indicators"):
                (into / f"{command}-{ref}.json").write_text(self.run(command, ref, "--format", "json").stdout)


def settle(db: Path) -> dict:
    """One self-contained file (WAL folded in), and what it holds."""
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.execute("PRAGMA journal_mode=DELETE")
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                             "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        head = con.execute("SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()[0]
    finally:
        con.close()
    con = sqlite3.connect(db)
    con.execute("VACUUM")
    con.close()
    return {"counts": counts, "audit_head": head, "audit_events": counts["audit_event"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commit")
    parser.add_argument("name")
    parser.add_argument("--python", help="a Python whose wijkflow is that commit's (skips the venv)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary worktree and venv")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", args.commit], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix=f"wijkflow-fixture-{commit[:7]}-"))
    tree = work / "src"
    try:
        if args.python:
            wijkflow = Path(args.python).parent / "wijkflow"
        else:
            subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=REPO, check=True)
            subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
            subprocess.run([str(work / "venv" / "bin" / "pip"), "install", "-q", str(tree)], check=True)
            wijkflow = work / "venv" / "bin" / "wijkflow"
        story = Story(wijkflow, work)
        story.play()
        story.outputs(HERE / args.name)
        facts = settle(story.db)
        shutil.copyfile(story.db, HERE / f"{args.name}.db")
        manifest = HERE / "manifest.json"
        data = json.loads(manifest.read_text()) if manifest.exists() else {}
        data[args.name] = {"commit": commit, "subject": subprocess.run(
            ["git", "log", "-1", "--format=%s", commit], cwd=REPO, capture_output=True, text=True).stdout.strip(),
            "now": story.env["WIJKFLOW_NOW"], **facts}
        manifest.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        print(f"{args.name}.db from {commit[:10]}: {facts['audit_events']} events, head {facts['audit_head'][:12]}")
    finally:
        if not args.keep:
            if tree.exists():
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO)
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
