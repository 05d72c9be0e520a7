"""The installed `wijkflow` command in real subprocesses, as a user runs it."""

import json
import multiprocessing
import subprocess

import pytest
from conftest import PL, SG1, wijkflow_command

from wijkflow import Conflict, services, store
from wijkflow.app import App


def test_demo_runs_a_whole_lifecycle(tmp_path):
    r = subprocess.run([*wijkflow_command(), "demo", "--keep", str(tmp_path)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Refused (exit code 3): 5 criteria are not met:" in r.stdout
    assert "moves from Monitoren / toetsen en bijsturen to Uitvoeren / sturen op verandering" in r.stdout
    assert "Wijkaanpak Noord — De Noork is now Afgesloten [closed]" in r.stdout
    assert (tmp_path / "demo.db").exists()


def test_a_new_user_walks_an_aanpak_from_the_shell(sh):
    assert sh("init").returncode == 0
    assert sh("people", "add", PL, "--name", "Fleur Mensink").returncode == 0
    assert sh("people", "add", SG1, "--name", "Robert Olde Heuvel", "--locale", "en").returncode == 0
    r = sh("new", "Wijkaanpak Noord", "--wijk", "Noord", "--leader", PL, "--approver", SG1, user=PL)
    assert r.returncode == 0, r.stderr
    r = sh("advance", "1", user=PL)
    assert r.returncode == 3
    assert r.stderr.startswith("Error: Wijkaanpak Noord cannot move from initiate to design: 5 criteria are not met.")
    for key in ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering"):
        assert sh("complete", "wijkaanpak-noord", key, "--evidence", "stuk.pdf", user=PL).returncode == 0
    assert sh("approve", "wijkaanpak-noord", "lokaal_contract_akkoord", user=SG1).returncode == 0
    r = sh("advance", "wijkaanpak-noord", "--format", "json", user=PL)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["to"] == "design"
    r = sh("history", "wijkaanpak-noord", "--format", "json")
    assert [e["type"] for e in json.loads(r.stdout)][-1] == "phase_changed"


def test_unexpected_failure_is_one_line_without_traceback(sh, tmp_path):
    (tmp_path / "kapot.db").write_bytes(b"dit is geen database" * 100)
    r = sh("list", env={"WIJKFLOW_DATABASE_URL": str(tmp_path / "kapot.db")})
    assert r.returncode in (1, 2)
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_python_m_wijkflow_works(tmp_path):
    import sys

    r = subprocess.run([sys.executable, "-m", "wijkflow", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and "wijkflow" in r.stdout


def _advance_at_the_same_moment(db: str, version: int, barrier, results) -> None:
    app = App.open(db)
    barrier.wait()
    try:
        services.advance(app, "wijkaanpak-noord", acting=PL, expected_version=version)
        results.put("won")
    except Conflict:
        results.put("conflict")
    finally:
        app.close()


def test_two_processes_advancing_at_once_give_one_winner_and_one_conflict(app, aanpak, db_url):
    for key in ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering"):
        services.complete(app, aanpak, key, evidence="x", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)
    with app.db.read() as conn:
        version = store.find_aanpak(conn, aanpak).version
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_advance_at_the_same_moment, args=(db_url, version, barrier, results))
             for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sorted(results.get(timeout=5) for _ in procs) == ["conflict", "won"]
    events = [e for e in services.history(app, aanpak) if e["type"] == "phase_changed"]
    assert len(events) == 1
    assert services.show_aanpak(app, aanpak)["phase"] == "design"


@pytest.mark.parametrize("attempt", range(3))
def test_two_cli_advances_never_both_move(sh, app, aanpak, db_url, attempt):
    """Two `wijkflow advance` commands at once: one moves, the other is refused (6, or 3 once it sees design)."""
    for key in ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering"):
        services.complete(app, aanpak, key, evidence="x", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)
    procs = [subprocess.Popen([*wijkflow_command(), "--db", db_url, "--as", PL, "advance", aanpak],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    finished = [p.communicate(timeout=60) for p in procs]
    outcomes = sorted(p.returncode for p in procs)
    assert outcomes in ([0, 3], [0, 6]), finished
    assert not any("Traceback" in err for _, err in finished)
    assert [e["to_phase"] for e in services.history(app, aanpak) if e["type"] == "phase_changed"] == ["design"]
