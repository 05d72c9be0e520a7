"""Record the content hash of every shipped workflow definition version in workflows.lock.json.

    python scripts/relock_workflows.py [--check] [--bump] [--released-ref main]

A shipped definition is immutable per (name, version): databases keep the hash of the version an
aanpak started on and refuse a file that changed under the same version ("was changed after
aanpakken started on it"). The lock beside workflows/ holds the hash (the canonical one wijkflow
stores, `Definition.content_hash()`) of every version released.

- New (name, version) pairs are added.
- An entry that is already released (present in the lock at --released-ref, default `main`)
  is never changed: the script refuses, naming the file, unless --bump raises that file's
  `version:` to one above the highest locked version and locks the new one.
- An entry added since --released-ref (not released yet, e.g. a version raised in the branch
  being merged) is rewritten to the file's current hash.
--check changes nothing and exits 1 when the lock is not up to date (tests/test_workflow_lock.py).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from wijkflow.definitions import load_file  # noqa: E402

LOCK = ROOT / "workflows.lock.json"
WORKFLOWS = ROOT / "workflows"


def read_lock(text: str | None) -> dict[str, dict[str, str]]:
    data = json.loads(text) if text else {}
    return {k: v for k, v in data.items() if not k.startswith("_")}


def released(ref: str) -> dict[str, dict[str, str]]:
    r = subprocess.run(["git", "show", f"{ref}:workflows.lock.json"], cwd=ROOT, capture_output=True, text=True)
    return read_lock(r.stdout) if r.returncode == 0 else {}


def bump(path: Path, to: int) -> None:
    text = path.read_text()
    new, n = re.subn(r"(?m)^version:\s*\d+\s*$", f"version: {to}", text, count=1)
    if n != 1:
        raise SystemExit(f"{path}: no top-level `version:` line to raise.")
    path.write_text(new)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if the lock is stale")
    parser.add_argument("--bump", action="store_true", help="raise the version of a released file that changed")
    parser.add_argument("--released-ref", default="main", help="the git ref whose lock counts as released")
    args = parser.parse_args()
    lock = read_lock(LOCK.read_text() if LOCK.exists() else None)
    done = released(args.released_ref)
    problems, changes = [], []
    for path in sorted(WORKFLOWS.glob("*.yaml")):
        d = load_file(path)
        digest = d.content_hash()
        versions = lock.setdefault(d.name, {})
        locked = versions.get(str(d.version))
        if locked == digest:
            continue
        if locked is not None and str(d.version) in done.get(d.name, {}):
            if args.bump and not args.check:
                to = max(int(v) for v in versions) + 1
                bump(path, to)
                digest = load_file(path).content_hash()
                versions[str(to)] = digest
                changes.append(f"{path.name}: version {d.version} was released; raised to {to} and locked")
                continue
            problems.append(f"{path.name}: {d.name} version {d.version} was released with another content; "
                            f"give it a new version (or run with --bump)")
            continue
        versions[str(d.version)] = digest
        changes.append(f"{path.name}: {d.name} version {d.version} locked ({digest[:12]})")
    for line in problems + changes:
        print(line)
    if problems or (args.check and changes):
        return 1
    if changes:
        out = {"_about": "Content hash (Definition.content_hash) of every released (name, version) of "
                         "workflows/*.yaml; written by scripts/relock_workflows.py; never edit a released entry."}
        out.update({name: dict(sorted(v.items(), key=lambda kv: int(kv[0]))) for name, v in sorted(lock.items())})
        LOCK.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
