"""The last administrator stays, and nobody bootstraps their way to administrator once there was one (issue 18)."""

from __future__ import annotations

import pytest
from conftest import ADMIN, PL

from wijkflow import services, store

# The refusals below are about the rows in one SQLite file, read back with db_state.
pytestmark = pytest.mark.sqlite_only

LAST_ADMIN = (f"Error: {ADMIN} is the last administrator and cannot be erased; add another with "
              "`wijkflow people add EMAIL --role admin` first; nothing was changed.\n")
NONE_LEFT = ("Error: Only an administrator may add people and none is left; whoever holds the database "
             'account must make one (README, "Trust model").\n')
HEADER = "name,wijk,gemeente,workflow,phase,since,leader,coordinators,approvers,indicators,target_date\n"


def test_the_only_administrator_cannot_erase_themselves(run, people, db_state):
    before = db_state()
    r = run("people", "forget", ADMIN, user=ADMIN)
    assert (r.exit_code, r.stdout, r.stderr) == (6, "", LAST_ADMIN)
    assert db_state() == before


def test_the_installed_command_refuses_to_erase_the_last_administrator(sh, people, db_state):
    before = db_state()
    r = sh("people", "forget", ADMIN, user=ADMIN)
    assert (r.returncode, r.stdout, r.stderr) == (6, "", LAST_ADMIN)
    assert db_state() == before


def test_an_administrator_may_leave_while_another_stays_but_the_last_one_may_not(run, app, people, db_state):
    second = "beheer@hengelo.example"
    services.add_person(app, second, name="Bea Beheer", role="admin", acting=ADMIN)
    r = run("people", "forget", ADMIN, user=ADMIN)
    assert r.exit_code == 0, r.stderr
    before = db_state()
    r = run("people", "forget", second, user=second)
    assert (r.exit_code, r.stdout) == (6, "")
    assert r.stderr == LAST_ADMIN.replace(ADMIN, second)
    assert db_state() == before


@pytest.fixture
def admin_erased_earlier(app, people):
    """A database whose only administrator was erased before wijkflow refused that: what `people forget`
    did then (roles blanked by store.erase_person, a `person_forgotten` event), so no admin is left."""
    with app.db.write() as conn:
        target = store.person_by_email(conn, ADMIN)
        store.erase_person(conn, target.id, app.now())
        store.append_event(conn, at=app.now(), type="person_forgotten", actor_id=target.id,
                           payload={"person_id": target.id, "roles_ended": 0})


@pytest.mark.parametrize("user", [PL, None], ids=["known person", "anonymous"])
def test_once_there_was_an_administrator_nobody_bootstraps_a_new_one(run, admin_erased_earlier, db_state, user):
    before = db_state()
    r = run("people", "add", "nieuw@hengelo.example", "--name", "Nieuwe Beheerder", "--role", "admin", user=user)
    assert (r.exit_code, r.stdout, r.stderr) == (5, "", NONE_LEFT)
    assert db_state() == before


def test_once_there_was_an_administrator_an_import_adds_nobody_new(run, admin_erased_earlier, db_state, tmp_path):
    path = tmp_path / "portfolio.csv"
    path.write_text(HEADER + f"Nieuw,Oost,Hengelo,,,,{PL},Nieuw Persoon <nieuw@hengelo.example>,,,\n",
                    encoding="utf-8")
    before = db_state()
    r = run("import", str(path), user=PL)
    assert (r.exit_code, r.stdout) == (5, "")
    assert r.stderr == ("Error: Only an administrator may add people, and nieuw@hengelo.example is not known "
                        "yet; ask an administrator to add them with `wijkflow people add` or to run this "
                        "import.\n")
    assert db_state() == before
