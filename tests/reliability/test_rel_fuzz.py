"""5. Fuzzing: generated workflow definitions and CLI argument lists never end in a traceback.

Every run ends with a documented exit code (never 1, "unexpected"), and a refused command leaves
the database exactly as it was.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from typing import Any

import pytest
import scenarios
import yaml
from click.testing import CliRunner
from conftest import ADMIN, PL, SG1
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wijkflow.cli import cli
from wijkflow.definitions import load_file, shipped_dir
from wijkflow.errors import DefinitionError

EXAMPLES = int(os.environ.get("RELIABILITY_FUZZ_EXAMPLES", "150"))
DOCUMENTED = {0, 2, 3, 4, 5, 6, 7}
BASE = yaml.safe_load((shipped_dir() / "wijkaanpak.yaml").read_text(encoding="utf-8"))
# Failures print hypothesis's reproduce blob; RELIABILITY_FUZZ_RANDOM=1 draws new cases each run (then run
# with --hypothesis-seed=N, as pytest prints it, to repeat one).
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="RELIABILITY_FUZZ_RANDOM" not in os.environ,
                print_blob=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

SEEN: Counter[str] = Counter()  # what the generated cases were, for README's figures


@pytest.fixture(scope="module", autouse=True)
def _figures(request):
    yield
    url = "sqlite" if not request.config.getoption("--postgres") else "postgresql://"
    scenarios.record("fuzz", url, **SEEN)


# --- values that make programs fall over -----------------------------------------------------------

nasty_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8", categories=("Cc", "Cf", "Zl", "Zp", "Mn", "So")), max_size=20),
    st.sampled_from(["", " ", "\x00", "\x1b[31mrood\x1b[0m", "\r\n", "Ünïcødé 🏘️", "\u202eevil", "'; DROP TABLE x;--",
                     "a" * 100_000, "9" * 400, "-1", "0", "1e309", "nan", "inf", "2026-02-30", "9999-12-31",
                     "0000-00-00", "../../etc/passwd", "%s%n", "{{ 7*7 }}", "null", "~", "[]", "{}"]),
)
scalar = st.one_of(nasty_text, st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                   st.integers(min_value=10**20, max_value=10**30))
value = st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(nasty_text, inner, max_size=4)), max_leaves=12)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


PATHS = _paths(BASE)[1:]


@st.composite
def definitions(draw: Any) -> str | bytes:
    """The shipped definition with a few parts replaced, dropped or duplicated; or plain garbage."""
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "valid-renamed", "text", "bytes", "aliases",
                                 "deep", "huge"]))
    if kind == "aliases":  # anchors and aliases, up to a billion laughs: refused before they expand
        width, depth = draw(st.integers(1, 10)), draw(st.integers(1, 9))
        lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, depth)]
        return "\n".join(lines) + f"\nname: bom\nversion: 1\nlabel: *a{depth - 1}\n"
    if kind == "deep":  # nesting far past any real definition
        depth = draw(st.integers(20, 3000))
        return "name: diep\nversion: 1\nlabel: " + "[" * depth + "]" * depth + "\n"
    if kind == "text":
        return draw(st.text(max_size=300))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    doc = copy.deepcopy(BASE)
    doc["name"] = draw(st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True))
    if kind == "huge":  # a number too big for any column or clock, where numbers go
        big = draw(st.integers(19, 5000).map(lambda digits: 10 ** digits))
        target = draw(st.sampled_from(["version", "days", "every"]))
        if target == "version":
            doc["version"] = big
        else:
            crit = next(c for c in doc["criteria"].values() if isinstance(c, dict))
            crit[target] = big
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    if kind == "mutated":
        for _ in range(draw(st.integers(1, 4))):
            path = draw(st.sampled_from(PATHS))
            parent = doc
            try:
                for step in path[:-1]:
                    parent = parent[step]
                action = draw(st.sampled_from(["replace", "drop", "duplicate"]))
                if action == "replace":
                    parent[path[-1]] = draw(value)
                elif action == "drop":
                    del parent[path[-1]]
                elif isinstance(parent, list):
                    parent.append(copy.deepcopy(parent[path[-1]]))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation removed this path
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@given(source=definitions())
@FUZZ
def test_generated_definitions_validate_or_are_refused_with_a_located_error(source, tmp_path_factory, fuzz_db):
    folder = tmp_path_factory.mktemp("defs")
    path = folder / "fuzzed.yaml"
    if isinstance(source, bytes):
        path.write_bytes(source)
    else:
        path.write_text(source, encoding="utf-8")
    SEEN["definitions"] += 1
    try:
        load_file(path)
        loaded = True
        SEEN["definitions valid"] += 1
    except DefinitionError as exc:
        loaded = False
        assert str(path) in str(exc) and "\n" not in str(exc).strip() or exc.problem
    result = CliRunner().invoke(cli, ["workflows", "validate", str(path)], env={"WIJKFLOW_CONFIG": ""},
                                catch_exceptions=True)
    assert not _crashed(result), _explain(result)
    assert result.exit_code == (0 if loaded else 2), _explain(result)
    if not loaded:
        assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
        return
    # A definition that validates is used: an aanpak started on it and moved as far as its gates allow.
    env, db_state = fuzz_db
    runner = CliRunner()
    before = db_state()
    name = f"Fuzz {abs(hash(source)) % 10**9}"
    new = runner.invoke(cli, ["--as", PL, "new", name, "--wijk", "Fuzz", "--leader", PL, "--workflow", str(path),
                              "--format", "json"], env=env, catch_exceptions=True)
    assert not _crashed(new) and new.exit_code in DOCUMENTED, _explain(new, ["new", str(path)])
    if new.exit_code != 0:
        assert db_state() == before
        return
    SEEN["aanpakken started on a generated definition"] += 1
    ref = str(json.loads(new.stdout)["slug"])
    for _ in range(3):
        moved = runner.invoke(cli, ["--as", ADMIN, "advance", ref, "--override", "--reason", "fuzz"], env=env,
                              catch_exceptions=True)
        assert not _crashed(moved) and moved.exit_code in DOCUMENTED, _explain(moved, ["advance", ref])
        SEEN["advances on a generated definition"] += moved.exit_code == 0


# --- CLI argument lists against a real database ------------------------------------------------------

COMMANDS = [
    ["advance"], ["approve"], ["assign"], ["audit", "head"], ["audit", "phases"], ["audit", "query"],
    ["audit", "verify"], ["complete"], ["config"], ["deadline"], ["gate"], ["history"], ["import"],
    ["indicator", "add"], ["indicator", "catalogue"], ["indicator", "set"], ["indicators"], ["info"], ["init"],
    ["interpret"], ["list"], ["mail", "preview"], ["mail", "test"], ["measure"], ["new"], ["people", "add"],
    ["people", "forget"], ["people", "list"], ["plan", "activity"], ["plan", "analyse"], ["plan", "partner"],
    ["plan", "show"], ["plan", "update"], ["reminders", "list"], ["reminders", "send"], ["report"], ["show"],
    ["theme", "add"], ["theme", "list"], ["workflows", "list"], ["workflows", "show"], ["workflows", "validate"],
    [],
]
OPTIONS = ["--to", "--reason", "--dry-run", "--override", "--format", "--evidence", "--comment", "--party", "--role",
           "--date", "--source", "--phase", "--since", "--wijk", "--gemeente", "--leader", "--approver", "--label",
           "--baseline", "--target", "--unit", "--as-of", "--until", "--due", "--failed", "--html", "--portfolio",
           "--name", "--locale", "--expect-head", "--type", "--workflow", "--help", "--debug", "--as", "--db"]
KNOWN = ["wijkaanpak-noord", "1", "0", "coalitie", "lokaal_contract", "lokaal_contract_akkoord", "design",
         "closed", "veiligheid", "json", "csv", "table", "mermaid", PL, SG1, "nobody@example.org", "2026-03-01",
         "approver", "projectleider", "3,5", "0001-01-01", "9999-12-31", "1900-01-01", "2026-03-29", "1e309", "-0"]
# A byte that is not UTF-8 reaches Python as a lone surrogate (os.fsdecode): "\udcff" is b"\xff".
not_utf8 = st.binary(min_size=1, max_size=8).map(lambda b: (b"x" + b + b"\xff").decode("utf-8", "surrogateescape"))
token = st.one_of(st.sampled_from(OPTIONS), st.sampled_from(KNOWN), nasty_text.filter(lambda s: "\x00" not in s),
                  not_utf8)


@pytest.fixture
def fuzz_db(app, people, aanpak, db_url, db_state, tmp_path, clock, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything a fuzzed command writes (--html x) lands here
    env = {"WIJKFLOW_DATABASE_URL": db_url, "WIJKFLOW_NOW": clock.iso, "WIJKFLOW_CONFIG": "",
           "WIJKFLOW_OUTBOX_DIR": str(tmp_path / "outbox"), "WIJKFLOW_SMTP_HOST": ""}
    return env, db_state


@given(command=st.sampled_from(COMMANDS), args=st.lists(token, max_size=6), user=st.sampled_from([PL, SG1, None]))
@FUZZ
def test_fuzzed_command_lines_end_with_a_documented_exit_code_and_write_nothing_when_refused(
        fuzz_db, command, args, user):
    env, db_state = fuzz_db
    argv = ([] if user is None else ["--as", user]) + command + args
    SEEN["command lines"] += 1
    if "--db" in argv:
        return  # another database entirely: not this test's business
    before = db_state()
    result = CliRunner().invoke(cli, argv, env=env, catch_exceptions=True)
    assert not _crashed(result), _explain(result, argv)
    assert result.exit_code in DOCUMENTED, _explain(result, argv)
    if result.exit_code != 0:
        assert db_state() == before, f"refused with exit {result.exit_code} but wrote: {argv!r}"


def _crashed(result: Any) -> bool:
    return result.exception is not None and not isinstance(result.exception, SystemExit)


def _explain(result: Any, argv: Any = None) -> str:
    import traceback

    tb = "".join(traceback.format_exception(result.exception)) if _crashed(result) else ""
    return f"argv={argv!r} exit={result.exit_code}\nstderr={result.stderr[:500]!r}\n{tb}"




def test_a_control_character_in_a_definition_is_refused_with_its_line(tmp_path):
    """Found by the fuzzer: PyYAML's character check ran outside the error handling (a traceback, exit 1)."""
    path = tmp_path / "ctl.yaml"
    path.write_text("name: x\nversion: 1\nlabel: a\x08b\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        load_file(path)
    assert err.value.line == 3 and "#x0008" in err.value.problem
    result = CliRunner().invoke(cli, ["workflows", "validate", str(path)], env={"WIJKFLOW_CONFIG": ""})
    assert result.exit_code == 2 and result.stderr.startswith(f"Error: {path}, line 3: the character #x0008")


SETTINGS = {
    "WIJKFLOW_DATABASE_URL": ["mysql://x/y", "/etc/passwd", "/", "::::", "sqlite://", "sqlite:///nodir/x.db",
                              "postgresql+psycopg://nobody@127.0.0.1:1/x", "file:x?mode=ro"],
    "WIJKFLOW_NOW": ["garbage", "2026-13-01", "", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00"],
    "WIJKFLOW_TIMEZONE": ["Mars/Olympus", "../../etc/passwd", "", "UTC", "Etc/GMT+14"],
    "WIJKFLOW_SMTP_PORT": ["abc", "99999999", "-1", ""],
    "WIJKFLOW_SMTP_TIMEOUT": ["-1", "abc", "1e309", "0"],
    "WIJKFLOW_REMINDER_HOUR": ["25", "-1", "abc", "9.5"],
    "WIJKFLOW_CLOSING_DAYS": ["xx", "2026-02-30", ",,,"],
    "WIJKFLOW_WORKFLOWS_DIR": ["/nonexistent", "/etc", "/etc/passwd"],
    "WIJKFLOW_CONFIG": ["/etc/passwd", "/nonexistent.toml", "/"],
    "WIJKFLOW_MAIL_FROM": ["not an address\r\nBcc: x@y", "", "@"],
    "WIJKFLOW_SMTP_SECURITY": ["bogus", ""],
}
SETTING_COMMANDS = [["list"], ["show", "wijkaanpak-noord"], ["reminders", "list"], ["reminders", "send"],
                    ["gate", "wijkaanpak-noord"], ["history", "wijkaanpak-noord"], ["audit", "verify"],
                    ["complete", "wijkaanpak-noord", "coalitie", "--evidence", "x"], ["workflows", "list"],
                    ["config"], ["mail", "test", "a@b.nl"]]


@given(command=st.sampled_from(SETTING_COMMANDS),
       settings_=st.dictionaries(st.sampled_from(sorted(SETTINGS)), st.none(), min_size=1, max_size=3).flatmap(
           lambda keys: st.fixed_dictionaries({k: st.sampled_from(SETTINGS[k]) | nasty_text.filter(
               lambda s: "\x00" not in s) for k in keys})))
@settings(FUZZ, max_examples=max(EXAMPLES // 2, 1))
def test_bad_settings_from_the_environment_are_refused_in_one_sentence(fuzz_db, command, settings_):
    env, db_state = fuzz_db
    before = db_state()
    result = CliRunner().invoke(cli, ["--as", PL, *command], env={**env, **settings_}, catch_exceptions=True)
    assert not _crashed(result), _explain(result, (settings_, command))
    assert result.exit_code in DOCUMENTED, _explain(result, (settings_, command))
    if result.exit_code != 0:
        assert db_state() == before


@pytest.mark.parametrize("name, value, says", [
    ("WIJKFLOW_TIMEZONE", "Mars/Olympus", "WIJKFLOW_TIMEZONE 'Mars/Olympus' is not a known time zone"),
    ("WIJKFLOW_TIMEZONE", "../../etc/passwd", "is not a known time zone"),
    ("WIJKFLOW_NOW", "0001-01-01T00:00:00", "must lie between the years 1900 and 9000"),
    ("WIJKFLOW_DATABASE_URL", "mysql://x/y", "'mysql://x/y' is not a database wijkflow can use"),
    ("WIJKFLOW_DATABASE_URL", "/etc/passwd", "The file at /etc/passwd is not a wijkflow database"),
    ("WIJKFLOW_DATABASE_URL", "a" * 5000, "cannot be used: File name too long"),
    ("WIJKFLOW_CONFIG", "a" * 5000, "cannot be read: File name too long"),
    ("WIJKFLOW_WORKFLOWS_DIR", "a" * 5000, "cannot be read (File name too long)"),
])
def test_settings_the_fuzzer_found_are_refused_in_one_sentence(fuzz_db, name, value, says):
    """Found by the fuzzer: each of these ended in a traceback or exit 1 ("unexpected") before."""
    env, _ = fuzz_db
    command = ["workflows", "list"] if name == "WIJKFLOW_WORKFLOWS_DIR" else ["show", "wijkaanpak-noord"]
    result = CliRunner().invoke(cli, ["--as", PL, *command], env={**env, name: value})
    assert not _crashed(result), _explain(result)
    assert result.exit_code == 2 and says in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert len(result.stderr) < 300  # one sentence, not the 5000 characters back


@pytest.mark.parametrize("args", [
    ["deadline", "wijkaanpak-noord", "coalitie", "9999-12-31"],
    ["deadline", "wijkaanpak-noord", "coalitie", "0001-01-01"],
    ["show", "wijkaanpak-noord", "--as-of", "0001-01-01"], ["show", "wijkaanpak-noord", "--as-of", "9999-12-31"],
    ["new", "Oud", "--wijk", "x", "--leader", PL, "--phase", "monitor", "--since", "0001-01-01"],
    ["audit", "query", "--since", "0001-01-01"], ["audit", "query", "--until", "9999-12-31"],
    ["reminders", "list", "--until", "9999-12-31"],
])
def test_dates_at_the_ends_of_the_calendar_are_refused_in_one_sentence(fuzz_db, args):
    """Found by probing what the fuzzer hinted at: year 1 and 9999 overflowed (OverflowError traceback)."""
    env, db_state = fuzz_db
    before = db_state()
    result = CliRunner().invoke(cli, ["--as", PL, *args], env=env)
    assert not _crashed(result), _explain(result, args)
    assert result.exit_code == 2 and "give a year between 1900 and 9000" in result.stderr, result.stderr
    assert db_state() == before
