"""The shipped definitions say which source document they follow, and README lists them."""

import re
from pathlib import Path

import pytest

from wijkflow.definitions import Registry, shipped_dir

ROOT = Path(__file__).resolve().parent.parent
SEED = re.compile(r"\b00[0-4]_[0-9a-f]{16}\.txt\b")


@pytest.mark.parametrize("name", ["wijkaanpak", "wijkontwikkelingsplan", "wijkprogramma", "gebiedsgericht"])
def test_shipped_definition_names_its_source_document_and_readme_lists_it(name):
    d = Registry([shipped_dir()]).get(name)
    text = (shipped_dir() / f"{name}.yaml").read_text(encoding="utf-8")
    comment = text.split("\nname:")[0]
    assert all(line.startswith("#") for line in comment.splitlines())
    seeds = set(SEED.findall(comment))
    assert seeds and seeds <= set(SEED.findall(d.source_document))
    for seed in seeds:
        assert (ROOT.parent / "shared" / "seeds" / seed).exists() or not (ROOT.parent / "shared").exists()
    row = next(line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
               if line.startswith(f"| `{name}`"))
    assert seeds <= set(SEED.findall(row))


@pytest.mark.parametrize("command", [
    ("import",), ("interpret",), ("plan", "show"), ("plan", "analyse"), ("plan", "partner"), ("plan", "activity"),
    ("plan", "update"), ("theme", "add"), ("theme", "list"), ("indicator", "catalogue"), ("indicator", "set"),
])
def test_new_commands_have_help_and_are_in_readme(run, command):
    r = run(*command, "--help")
    assert r.exit_code == 0 and "Usage: " in r.stdout
    assert f"wijkflow {' '.join(command)}" in (ROOT / "README.md").read_text(encoding="utf-8")
