"""Bounds checked where input enters (issue 15, item 5): a huge number is refused in one sentence,
exit 2, instead of failing later with an OverflowError (exit 1). Run on the installed command."""

from __future__ import annotations

import pytest
from conftest import MINIMAL, PL

HUGE = str(10**40)


def _one_sentence(r, sentence: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr == f"Error: {sentence}\n"


@pytest.mark.parametrize("version", [HUGE, "1000001", "0", "-3"])
def test_a_definition_version_out_of_range_is_refused(sh, tmp_path, version):
    path = tmp_path / "groot.yaml"
    path.write_text(MINIMAL.replace("version: 1\n", f"version: {version}\n"), encoding="utf-8")
    _one_sentence(sh("workflows", "validate", str(path)),
                  f"{path}, line 2 (version): the version must be a whole number from 1 to 1,000,000")


def test_the_highest_version_still_validates(sh, tmp_path):
    path = tmp_path / "hoog.yaml"
    path.write_text(MINIMAL.replace("version: 1\n", "version: 1000000\n"), encoding="utf-8")
    r = sh("workflows", "validate", str(path))
    assert r.returncode == 0, r.stderr
    assert "mini v1000000" in r.stdout


def test_new_on_a_definition_with_a_huge_version_is_refused(app, people, sh, tmp_path, db_state):
    path = tmp_path / "groot.yaml"
    path.write_text(MINIMAL.replace("version: 1\n", f"version: {HUGE}\n"), encoding="utf-8")
    before = db_state()
    r = sh("new", "Wijkaanpak Noord", "--wijk", "Noord", "--leader", PL, "--workflow", str(path), user=PL)
    _one_sentence(r, f"{path}, line 2 (version): the version must be a whole number from 1 to 1,000,000")
    assert db_state() == before


@pytest.mark.parametrize("to", ["99999999999999999999", "1000001", "0"])
def test_migrate_to_a_version_out_of_range_is_refused(app, aanpak, sh, db_state, to):
    before = db_state()
    _one_sentence(sh("migrate", aanpak, "--to-version", to, user=PL),
                  "--to-version is a definition version number: from 1 to 1,000,000.")
    assert db_state() == before


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity", "1e999", "-5", "0", "86401"])
def test_lease_seconds_must_be_finite_positive_and_at_most_a_day(sh, value):
    _one_sentence(sh("config", env={"WIJKFLOW_LEASE_SECONDS": value}),
                  "WIJKFLOW_LEASE_SECONDS must be a number of seconds more than 0 and at most 86,400 (one day), "
                  f"not {value}.")


def test_lease_seconds_within_bounds_is_taken(sh):
    r = sh("config", "--format", "json", env={"WIJKFLOW_LEASE_SECONDS": "86400"})
    assert r.returncode == 0, r.stderr
    assert '"lease_seconds"' in r.stdout and "86400" in r.stdout


@pytest.mark.sqlite_only
def test_a_report_name_over_255_bytes_is_refused(aanpak, sh, tmp_path):
    target = tmp_path / ("x" * 300 + ".html")
    r = sh("report", aanpak, "--html", str(target))
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("Error: The file name ") and r.stderr.endswith(
        " is longer than 255 bytes; choose a shorter name.\n")


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e999", "-5", "0", "3601"])
def test_the_smtp_timeout_must_be_finite_positive_and_at_most_an_hour(run, value):
    """Before: WIJKFLOW_SMTP_TIMEOUT=inf was taken, and a server that never answered held the sweep forever."""
    r = run("config", env={"WIJKFLOW_SMTP_TIMEOUT": value})
    assert (r.exit_code, r.stderr) == (2, "Error: WIJKFLOW_SMTP_TIMEOUT must be a number of seconds more than 0 "
                                          f"and at most 3,600 (one hour), not {value}.\n")


def test_the_smtp_timeout_is_refused_by_the_installed_command_before_sending(sh):
    r = sh("reminders", "send", env={"WIJKFLOW_SMTP_TIMEOUT": "inf"})
    _one_sentence(r, "WIJKFLOW_SMTP_TIMEOUT must be a number of seconds more than 0 and at most 3,600 (one hour), "
                     "not inf.")


def test_a_non_utf8_byte_in_an_argument_is_one_sentence_and_exit_2(aanpak, sh, db_state):
    """Before: exit 1, "unexpected UnicodeEncodeError". The argument reaches Python as a lone surrogate
    (os.fsdecode of b"Noord\\xff"), which is what the subprocess is given here."""
    before = db_state()
    r = sh("people", "add", "nieuw@hengelo.example", "--name", "Jan\udcffJansen", user=PL)
    _one_sentence(r, "Argument 5 is not UTF-8 text (byte 0xff); give names, keys and paths as UTF-8 (check the "
                     "terminal's or the script's encoding).")
    assert db_state() == before


@pytest.mark.parametrize(("argv", "n"), [(["show", "\udce9t\udce9"], 2), (["--as", "\udcc3", "list"], 2),
                                        (["audit", "query", "--wijk", "No\udc80rd"], 4)])
def test_every_place_an_argument_can_be_is_checked(aanpak, run, argv, n):
    r = run(*argv)
    assert r.exit_code == 2 and r.stderr.startswith(f"Error: Argument {n} is not UTF-8 text (byte 0x")
