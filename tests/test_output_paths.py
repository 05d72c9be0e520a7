"""Output paths (issue 15, item 1): a file wijkflow writes never replaces the database, a device,
a directory, a link or someone else's file. Run on the installed command, as a user would."""

from __future__ import annotations

import os
import stat

import pytest
from conftest import PL

pytestmark = pytest.mark.sqlite_only  # the database is a file next to the report


@pytest.fixture
def guarded(app, aanpak, db_path, db_state, sh):
    """Runs a command that must be refused: exit 2, one sentence on stderr, the database as it was."""
    before = db_state()
    inode = db_path.stat().st_ino

    def _refused(*args: str, sentence: str) -> None:
        r = sh(*args)
        assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
        assert r.stderr.startswith("Error: ") and sentence in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
        assert r.stdout == ""
        assert db_path.is_file() and db_path.stat().st_ino == inode
        assert db_state() == before  # unchanged, and still opens
        assert sh("audit", "verify").returncode == 0

    return _refused


REPORTS = [pytest.param(["wijkaanpak-noord"], id="aanpak"), pytest.param(["--portfolio"], id="portfolio")]


@pytest.mark.parametrize("which", REPORTS)
@pytest.mark.parametrize("suffix", ["", "-wal", "-shm", "-journal"])
def test_the_database_and_its_journal_are_refused(guarded, db_path, which, suffix):
    target = db_path.with_name(db_path.name + suffix)
    guarded("report", *which, "--html", str(target), "--force",
            sentence=f"{target} is wijkflow's database (or its journal); choose another name for the report.")
    if suffix in ("-wal", "-shm") and target.exists():
        assert not target.read_bytes().startswith(b"<!doctype html>")


def test_the_database_by_another_name_is_refused(guarded, db_path, tmp_path):
    other = tmp_path / "sub" / ".." / db_path.name
    (tmp_path / "sub").mkdir()
    guarded("report", "wijkaanpak-noord", "--html", str(other), "--force",
            sentence="is wijkflow's database (or its journal)")


def test_a_symlink_to_the_database_is_refused(guarded, db_path, tmp_path):
    link = tmp_path / "rapport.html"
    link.symlink_to(db_path)
    guarded("report", "wijkaanpak-noord", "--html", str(link), "--force",
            sentence=f"{link} is wijkflow's database (or its journal)")
    assert link.is_symlink()


def test_any_symlink_is_refused(guarded, tmp_path):
    elsewhere = tmp_path / "elders.html"
    link = tmp_path / "link.html"
    link.symlink_to(elsewhere)
    guarded("report", "wijkaanpak-noord", "--html", str(link), "--force",
            sentence=f"{link} is a symbolic link; wijkflow does not write through links: give the real path.")
    assert link.is_symlink() and not elsewhere.exists()


def test_a_fifo_is_refused_and_stays_a_fifo(guarded, tmp_path):
    fifo = tmp_path / "pijp"
    os.mkfifo(fifo)
    guarded("report", "wijkaanpak-noord", "--html", str(fifo), "--force",
            sentence=f"{fifo} is not a regular file (a device, pipe or socket)")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize("which", REPORTS)
def test_a_directory_is_refused(guarded, tmp_path, which):
    folder = tmp_path / "map"
    folder.mkdir()
    guarded("report", *which, "--html", str(folder), "--force",
            sentence=f"{folder} is a directory; give a file name such as report.html.")
    assert folder.is_dir() and not list(folder.iterdir())


def test_someone_elses_file_needs_force(guarded, sh, tmp_path):
    notes = tmp_path / "notities.html"
    notes.write_text("<p>mijn aantekeningen</p>", encoding="utf-8")
    guarded("report", "wijkaanpak-noord", "--html", str(notes),
            sentence=f"{notes} already exists and is not a wijkflow report; give --force to replace it, "
                     "or choose another name.")
    assert notes.read_text(encoding="utf-8") == "<p>mijn aantekeningen</p>"
    assert not list(tmp_path.glob(".wijkflow-report-*"))
    r = sh("report", "wijkaanpak-noord", "--html", str(notes), "--force")
    assert r.returncode == 0, r.stderr
    assert '<meta name="generator" content="wijkflow">' in notes.read_text(encoding="utf-8")


@pytest.mark.parametrize("which", REPORTS)
def test_an_earlier_report_is_replaced_without_force(app, aanpak, sh, tmp_path, which):
    out = tmp_path / "rapport.html"
    assert sh("report", *which, "--html", str(out)).returncode == 0
    first = out.stat().st_ino
    r = sh("report", *which, "--html", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Wrote {out} (")
    assert out.stat().st_ino != first  # written aside and renamed: never half a page
    assert not list(tmp_path.glob(".wijkflow-report-*"))


def test_a_name_over_255_bytes_is_refused(guarded, tmp_path):
    long_name = "r" * 251 + ".html"  # 256 bytes
    guarded("report", "wijkaanpak-noord", "--html", str(tmp_path / long_name),
            sentence="is longer than 255 bytes; choose a shorter name.")
    accented = "é" * 126 + ".html"  # 126 characters of two bytes each: 257 bytes
    guarded("report", "wijkaanpak-noord", "--html", str(tmp_path / accented),
            sentence="is longer than 255 bytes; choose a shorter name.")


# --- demo --keep DIR: writes demo.db, its journal and an outbox into DIR ---------------------


def test_demo_keep_refuses_a_demo_db_it_did_not_make(sh, tmp_path):
    keep = tmp_path / "bewaar"
    keep.mkdir()
    (keep / "demo.db").write_bytes(b"mijn eigen bestand")
    r = sh("demo", "--keep", str(keep))
    assert r.returncode == 2
    assert r.stderr == (f"Error: {keep / 'demo.db'} already exists and is not a wijkflow demo database; "
                        "give --force to replace it, or choose another name.\n")
    assert (keep / "demo.db").read_bytes() == b"mijn eigen bestand"


def test_demo_keep_never_replaces_the_configured_database(sh, tmp_path):
    keep = tmp_path / "bewaar"
    keep.mkdir()
    ours = keep / "demo.db"
    assert sh("init", env={"WIJKFLOW_DATABASE_URL": str(ours)}).returncode == 0
    size = ours.stat().st_size
    r = sh("demo", "--keep", str(keep), "--force", env={"WIJKFLOW_DATABASE_URL": str(ours)})
    assert r.returncode == 2
    assert r.stderr == (f"Error: {ours} is wijkflow's database (or its journal); choose another name for the "
                        "demo database.\n")
    assert ours.stat().st_size == size
    assert sh("audit", "verify", env={"WIJKFLOW_DATABASE_URL": str(ours)}).returncode == 0


def test_demo_keep_refuses_a_link_and_a_file(sh, tmp_path):
    real = tmp_path / "echt"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    r = sh("demo", "--keep", str(link))
    assert (r.returncode, r.stderr) == (2, f"Error: {link} is a symbolic link; wijkflow does not write through "
                                           "links: give the real path.\n")
    plain = tmp_path / "bestand"
    plain.write_text("x", encoding="utf-8")
    r = sh("demo", "--keep", str(plain))
    assert (r.returncode, r.stderr) == (2, f"Error: {plain} exists and is not a directory; give a new or "
                                           "existing directory to --keep.\n")
    assert not list(real.iterdir()) and plain.read_text(encoding="utf-8") == "x"


def test_demo_keep_runs_again_over_its_own_earlier_run(sh, tmp_path):
    keep = tmp_path / "bewaar"
    for _ in range(2):
        r = sh("demo", "--keep", str(keep), timeout=120)
        assert r.returncode == 0, r.stderr
    assert (keep / "demo.db").is_file() and (keep / ".wijkflow-demo").is_file()
    r = sh("--as", PL, "list", env={"WIJKFLOW_DATABASE_URL": str(keep / "demo.db")})
    assert r.returncode == 0 and r.stdout.count("Wijkaanpak Noord") == 1  # one run's data, not two


# --- db copy --to PATH: a SQLite target is a file wijkflow writes too ---------------------------


def test_db_copy_refuses_a_link_to_the_source_its_journal_and_a_fifo(guarded, db_path, tmp_path):
    link = tmp_path / "kopie.db"
    link.symlink_to(db_path)
    guarded("db", "copy", "--to", str(link), sentence="The target is the database being copied; give another --to.")
    wal = db_path.with_name(db_path.name + "-wal")
    guarded("db", "copy", "--to", str(wal),
            sentence=f"{wal} is wijkflow's database (or its journal); choose another name for the copy.")
    fifo = tmp_path / "pijp.db"
    os.mkfifo(fifo)  # SQLite would wait on it forever
    guarded("db", "copy", "--to", str(fifo), sentence=f"{fifo} is not a regular file (a device, pipe or socket)")
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
