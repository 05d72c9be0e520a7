"""Issue 15, item 4: YAML is read with bounded memory and depth.

A 'billion laughs' of nested aliases drove `workflows validate` to 3.6 GB; a recursive alias or
10,000 nested brackets ended in a RecursionError (exit 1). Now anchors and aliases are refused,
nesting stops at MAX_YAML_DEPTH and a definition file at MAX_DEFINITION_BYTES: exit 2 with one
sentence naming the file and the line, fast, in a process that may not use more than 1 GB.
"""

from __future__ import annotations

import os
import resource
import subprocess

import pytest
from conftest import PL, wijkflow_command

from wijkflow.catalogue import catalogue
from wijkflow.definitions import MAX_DEFINITION_BYTES, MAX_YAML_DEPTH, load_file, load_text
from wijkflow.errors import DefinitionError

LAUGHS = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'] + [
    f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)]
BOMB = "\n".join(LAUGHS) + "\n"  # 9**9 = 387,420,489 "lol"s when expanded
RECURSIVE = "name: &self\n  inner: *self\n"
DEEP = "name: " + "[" * 10_000 + "]" * 10_000 + "\n"
DEEP_BLOCK = "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "x: 1\n"
ANCHOR = "# a definition\nname: mini\nlabel: &l Mini\n"

GIB = 1 << 30


def limited(*args: str, env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """The installed command with at most 1 GB of address space and `timeout` seconds."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (GIB, GIB))

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
    full_env.update(env)
    return subprocess.run([*wijkflow_command(), *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout, preexec_fn=cap)


@pytest.fixture
def env(db_url, tmp_path) -> dict[str, str]:
    return {"WIJKFLOW_DATABASE_URL": db_url, "WIJKFLOW_CONFIG": "", "WIJKFLOW_OUTBOX_DIR": str(tmp_path / "outbox")}


def test_the_bomb_is_small():
    assert len(BOMB.encode()) < 600


@pytest.mark.parametrize(("text", "line", "problem"), [
    (BOMB, 1, "the YAML anchor &a is not allowed (wijkflow reads no anchors or aliases); "
              "write the value out in full"),
    (RECURSIVE, 1, "the YAML anchor &self is not allowed (wijkflow reads no anchors or aliases); "
                   "write the value out in full"),
    (DEEP, 1, f"lists and mappings are nested more than {MAX_YAML_DEPTH} levels deep"),
    (DEEP_BLOCK, MAX_YAML_DEPTH + 1, f"lists and mappings are nested more than {MAX_YAML_DEPTH} levels deep"),
    (ANCHOR, 3, "the YAML anchor &l is not allowed (wijkflow reads no anchors or aliases); "
                "write the value out in full"),
    ("name: *nergens\n", 1, "the YAML alias *nergens is not allowed (wijkflow reads no anchors or aliases); "
                            "write the value out in full"),
])
def test_workflows_validate_refuses_aliases_and_deep_nesting_with_exit_2(env, tmp_path, text, line, problem):
    path = tmp_path / "bom.yaml"
    path.write_text(text, encoding="utf-8")
    r = limited("workflows", "validate", str(path), env=env)
    assert (r.returncode, r.stdout) == (2, ""), r.stderr
    assert r.stderr == f"Error: {path}, line {line}: {problem}\n"


@pytest.mark.parametrize("text", [BOMB, RECURSIVE, DEEP], ids=["bomb", "recursive", "deep"])
def test_a_bad_file_in_the_workflows_dir_stops_workflows_list_with_exit_2(env, tmp_path, text):
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "lol.yaml").write_text(text, encoding="utf-8")
    r = limited("workflows", "list", env={**env, "WIJKFLOW_WORKFLOWS_DIR": str(workflows)})
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"Error: {workflows / 'lol.yaml'}, line 1: ") and "Traceback" not in r.stderr
    assert len(r.stderr.splitlines()) == 1


def test_nesting_up_to_the_limit_is_read(tmp_path):
    # MAX_YAML_DEPTH levels of collections: the top mapping and 49 lists inside it
    text = "name: " + "[" * (MAX_YAML_DEPTH - 1) + "]" * (MAX_YAML_DEPTH - 1) + "\n"
    with pytest.raises(DefinitionError) as err:
        load_text(text, file="t.yaml")
    assert "nested" not in str(err.value)  # it got as far as checking the definition itself
    with pytest.raises(DefinitionError, match="nested more than"):
        load_text("name: " + "[" * MAX_YAML_DEPTH + "]" * MAX_YAML_DEPTH + "\n", file="t.yaml")


def test_a_definition_file_is_read_up_to_its_size_limit(tmp_path):
    path = tmp_path / "groot.yaml"
    path.write_text("#" * MAX_DEFINITION_BYTES + "\nname: x\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        load_file(path)
    assert str(err.value) == (f"{path}: the file is larger than {MAX_DEFINITION_BYTES:,} bytes, "
                              "the most wijkflow reads for a definition")


@pytest.mark.parametrize(("text", "message"), [
    ("name: mini\nlabel: 2026-02-30\n",
     "t.yaml, line 2 (label): '2026-02-30' cannot be read as timestamp (day is out of range for month)"),
    ("name: mini\nversion: " + "9" * 5000 + "\n",
     "t.yaml, line 2 (version): '" + "9" * 38 + "… cannot be read as int "
     "(Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits)"),
])
def test_a_value_yaml_cannot_construct_is_a_definition_error(text, message):
    with pytest.raises(DefinitionError) as err:
        load_text(text, file="t.yaml")
    assert str(err.value) == message


def test_the_shipped_catalogue_still_loads():
    assert len(catalogue()) > 5


def test_a_portfolio_import_refuses_aliases_too(run, people, tmp_path):
    path = tmp_path / "portfolio.yaml"
    path.write_text(f"- &noord {{name: Wijkaanpak Noord, wijk: Noord, leader: {PL}}}\n- *noord\n", encoding="utf-8")
    r = run("import", str(path), user=PL)
    assert (r.exit_code, r.stderr) == (2, f"Error: {path}, line 1: the YAML anchor &noord is not allowed "
                                          "(wijkflow reads no anchors or aliases); write the value out in full\n")
    deep = tmp_path / "deep.yaml"
    deep.write_text("- " + "[" * 10_000 + "]" * 10_000 + "\n", encoding="utf-8")
    r = run("import", str(deep), user=PL)
    assert r.exit_code == 2 and "nested more than" in r.stderr


def test_a_portfolio_larger_than_the_yaml_limit_is_refused(run, people, tmp_path, monkeypatch):
    from wijkflow.services import portfolio_import

    monkeypatch.setattr(portfolio_import, "MAX_YAML_BYTES", 100)
    path = tmp_path / "groot.yaml"
    path.write_text("".join(f"- {{name: Wijkaanpak {i}, wijk: Noord, leader: {PL}}}\n" for i in range(5)),
                    encoding="utf-8")
    r = run("import", str(path), user=PL)
    assert (r.exit_code, r.stderr) == (2, f"Error: {path} is larger than 100 characters, the most wijkflow reads "
                                          "as YAML; import a portfolio that large as CSV.\n")
