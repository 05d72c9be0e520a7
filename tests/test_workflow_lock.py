"""Shipped definitions are immutable per version: workflows.lock.json holds each released hash.

A database keeps the hash of the definition version an aanpak started on and refuses a file
that changed under the same version; a shipped file edited in place would strand every
database that holds the old one. Change a shipped definition: raise its `version:`, then
`python scripts/relock_workflows.py` (it refuses to rewrite a released entry).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from wijkflow.definitions import load_file

ROOT = Path(__file__).resolve().parents[1]
LOCK = json.loads((ROOT / "workflows.lock.json").read_text())


def test_every_shipped_definition_is_the_content_locked_for_its_version():
    for path in sorted((ROOT / "workflows").glob("*.yaml")):
        d = load_file(path)
        assert str(d.version) in LOCK.get(d.name, {}), f"{path.name}: {d.name} v{d.version} is not locked; relock"
        assert LOCK[d.name][str(d.version)] == d.content_hash(), (
            f"{path.name} changed under version {d.version}, which was released; give it a new version")


def test_old_versions_stay_in_the_lock():
    """The versions databases already hold stay recorded beside the newest (never dropped by a relock)."""
    for name in ("wijkaanpak", "gebiedsgericht", "wijkontwikkelingsplan", "wijkprogramma"):
        assert {"1", "2"} <= set(LOCK[name])


def relock(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(tree / "scripts" / "relock_workflows.py"), *args],
                          capture_output=True, text=True, cwd=tree)


def copy_of_the_checkout(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    for part in ("scripts", "workflows"):
        shutil.copytree(ROOT / part, tree / part)
    shutil.copyfile(ROOT / "workflows.lock.json", tree / "workflows.lock.json")
    (tree / "wijkflow").symlink_to(ROOT / "wijkflow")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tree, check=True)
    subprocess.run(["git", "add", "-A"], cwd=tree, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example", "commit", "-qm", "released"],
                   cwd=tree, check=True)
    return tree


def test_relock_refuses_a_released_version_edited_in_place_and_bumps_when_asked(tmp_path):
    tree = copy_of_the_checkout(tmp_path)
    assert relock(tree, "--check").returncode == 0
    yaml = tree / "workflows" / "wijkaanpak.yaml"
    yaml.write_text(yaml.read_text().replace("label: Wijkaanpak (Hengelo-model)", "label: Wijkaanpak (nieuw)"))
    before = (tree / "workflows.lock.json").read_text()
    r = relock(tree)
    assert r.returncode == 1 and "wijkaanpak version 2 was released with another content" in r.stdout
    assert (tree / "workflows.lock.json").read_text() == before
    r = relock(tree, "--bump")
    assert r.returncode == 0, r.stdout + r.stderr
    assert load_file(yaml).version == 3
    lock = json.loads((tree / "workflows.lock.json").read_text())
    assert lock["wijkaanpak"]["2"] == LOCK["wijkaanpak"]["2"]
    assert lock["wijkaanpak"]["3"] == load_file(yaml).content_hash()
    # A version raised in the branch and not released yet may still be relocked after another edit.
    yaml.write_text(yaml.read_text().replace("label: Wijkaanpak (nieuw)", "label: Wijkaanpak (nieuwer)"))
    assert relock(tree).returncode == 0
    assert json.loads((tree / "workflows.lock.json").read_text())["wijkaanpak"]["3"] == load_file(yaml).content_hash()
