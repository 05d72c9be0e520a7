"""`wijkflow import`: a portfolio of running aanpakken in one transaction, all or nothing."""

import json
import textwrap

import sqlalchemy as sa
from conftest import ADMIN, PL, SG1, WR

from wijkflow import services, store

HEADER = "name,wijk,gemeente,workflow,phase,since,leader,coordinators,approvers,indicators,target_date\n"


def counts(app):
    with app.db.read() as conn:
        return (store.count_events(conn),
                conn.execute(sa.text("SELECT count(*) FROM aanpak")).scalar(),
                conn.execute(sa.text("SELECT count(*) FROM person")).scalar(),
                conn.execute(sa.text("SELECT count(*) FROM indicator")).scalar())


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_import_csv_through_the_installed_command_lands_every_aanpak_in_its_phase(sh, run, app, people, tmp_path):
    path = write(tmp_path, "portfolio.csv", HEADER + (
        f"Wijkaanpak Noord,Noord,Hengelo,wijkaanpak,execute,2025-09-01,{PL},{WR},{SG1},"
        "actieve_bewoners=12->20;veiligheidsbeleving=6.1->7,2027-12-31\n"
        f"Wijkprogramma Klarendal,Klarendal,Arnhem,wijkprogramma,monitor,2026-01-15,{PL},"
        "Kees Klarendal <kees@arnhem.example>,,,\n"
        f"Gebiedsaanpak Lindenholt,Lindenholt,Nijmegen,gebiedsgericht,,,{PL},,,leefbaarometer=5,\n"))
    env = {"WIJKFLOW_NOW": "2026-03-02T09:00:00+01:00"}
    r = sh("import", str(path), user=ADMIN, env=env)  # it adds a person: administrators only
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{path}: imported 3 wijkaanpakken and 1 new people in one transaction.\n")
    assert "Importing" not in r.stderr  # no progress bar when nobody watches a terminal

    rows = json.loads(run("list", "--format", "json").stdout)  # the test clock is the same moment
    assert [(a["slug"], a["phase"], a["days_in_phase"]) for a in rows] == [
        ("wijkaanpak-noord", "execute", 182), ("wijkprogramma-klarendal", "monitor", 46),
        ("gebiedsaanpak-lindenholt", "initiate", 0)]
    inds = json.loads(run("indicators", "wijkaanpak-noord", "--format", "json").stdout)
    assert [(i["key"], i["baseline"], i["baseline_date"], i["target"], i["target_date"]) for i in inds] == [
        ("actieve_bewoners", 12.0, "2025-09-01", 20.0, "2027-12-31"),
        ("veiligheidsbeleving", 6.1, "2025-09-01", 7.0, "2027-12-31")]
    shown = json.loads(run("show", "wijkprogramma-klarendal", "--format", "json").stdout)
    assert {(p["role"], p["email"]) for p in shown["people"]} == {("projectleider", PL),
                                                                  ("coordinator", "kees@arnhem.example")}


def test_import_with_bad_rows_in_the_middle_writes_nothing_and_reports_every_bad_row(run, app, people, tmp_path):
    path = write(tmp_path, "portfolio.csv", HEADER + (
        f"Goed 1,Noord,Hengelo,wijkaanpak,execute,2025-09-01,{PL},,,actieve_bewoners=12->20,\n"
        f"Fout fase,Zuid,Hengelo,wijkaanpak,nergens,2025-01-01,{PL},,,,\n"
        f"Goed 2,Oost,Hengelo,,design,2026-01-05,{PL},Nieuw Persoon <nieuw@hengelo.example>,,,\n"
        f"Fout persoon,West,Hengelo,,,,onbekend@hengelo.example,,,,\n"
        f"Fout indicator,West,Hengelo,,,,{PL},,,actieve_bewoners=veel->20,\n"
        f"Fout datum,West,Hengelo,,execute,2026-13-01,{PL},,,,\n"
        f"Goed 3,Midden,Hengelo,wijkaanpak,monitor,2026-02-01,{PL},,,,\n"))
    before = counts(app)
    for extra in ((), ("--dry-run",)):
        r = run("import", str(path), *extra, user=ADMIN)
        assert r.exit_code == 2
        assert r.stdout == ""
        assert r.stderr == (
            f"Error: {path}: 4 bad rows; nothing was imported.\n"
            "  line 3: Workflow wijkaanpak v2 has no phase 'nergens' (phases: initiate, design, execute, monitor, "
            "evaluate, closed).\n"
            "  line 5: No projectleider with email onbekend@hengelo.example; add them first with "
            "`wijkflow people add EMAIL --name NAME`.\n"
            "  line 6: The baseline 'veel' is not a number.\n"
            "  line 7: '2026-13-01' is not a valid --since date: that day does not exist.\n")
        assert counts(app) == before  # not the good rows, not the new person, not one event


def test_import_dry_run_reports_what_would_happen_and_writes_nothing(run, app, people, tmp_path):
    path = write(tmp_path, "portfolio.csv", HEADER + f"Goed,Noord,Hengelo,,execute,2025-09-01,{PL},,,,\n")
    before = counts(app)
    r = run("import", str(path), "--dry-run", user=PL)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith(f"Dry run: {path}: would import 1 wijkaanpakken; nothing was written.\n")
    assert counts(app) == before
    assert run("import", str(path), user=PL).exit_code == 0
    assert counts(app)[1] == before[1] + 1


def test_import_yaml_with_people_and_own_indicators_names_the_line_of_a_bad_entry(run, app, people, tmp_path):
    good = write(tmp_path, "portfolio.yaml", f"""\
        people:
          - email: kees@arnhem.example
            name: Kees Klarendal
            locale: en
        aanpakken:
          - name: Wijkprogramma Klarendal
            wijk: Klarendal
            gemeente: Arnhem
            workflow: wijkprogramma
            phase: execute
            since: 2025-10-01
            leader: {PL}
            coordinators: [kees@arnhem.example]
            indicators:
              - key: wateroverlast_meldingen
                baseline: 40
                baseline_date: 2025-01-01
                target: 25
              - key: jongeren_werk
                label: Jongeren met werk of opleiding
                unit: "%"
                baseline: 81
                target: 88
                target_date: 2028-01-01
        """)
    r = run("import", str(good), "--format", "json", user=ADMIN)
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["people_added"] == ["kees@arnhem.example"]
    assert [(c["line"], c["slug"], c["phase"]) for c in report["created"]] == [
        (6, "wijkprogramma-klarendal", "execute")]
    inds = services.progress(app, "wijkprogramma-klarendal")
    assert [(i["key"], i["direction"], i["unit"]) for i in inds] == [
        ("wateroverlast_meldingen", "lower", "aantal per jaar"), ("jongeren_werk", "higher", "%")]

    bad = write(tmp_path, "bad.yaml", f"""\
        - name: Goed
          wijk: Noord
          leader: {PL}
        - name: Fout
          wijk: Zuid
          leader: {PL}
          fase: execute
        - name: Ook fout
          wijk: Zuid
          leader: {PL}
          indicators:
            - key: rapportcijfer
              baseline: 6
        """)
    before = counts(app)
    r = run("import", str(bad), user=PL)
    assert r.exit_code == 2
    assert r.stderr == (f"Error: {bad}: 2 bad rows; nothing was imported.\n"
                        "  line 4: unknown field(s) fase\n"
                        "  line 8: Indicator 'rapportcijfer' needs a --label (or --from-catalogue for a "
                        "catalogue key).\n")
    assert counts(app) == before


def test_import_that_would_add_people_is_for_administrators_only(run, app, people, tmp_path):
    path = write(tmp_path, "portfolio.csv", HEADER + (
        f"Goed,Noord,Hengelo,,execute,2025-09-01,{PL},,,,\n"
        f"Nieuw,Oost,Hengelo,,,,{PL},Nieuw Persoon <nieuw@hengelo.example>,,,\n"))
    before = counts(app)
    for extra in ((), ("--dry-run",)):
        r = run("import", str(path), *extra, user=PL)
        assert (r.exit_code, r.stdout) == (5, "")
        assert r.stderr == ("Error: Only an administrator may add people, and nieuw@hengelo.example is not known "
                            "yet; ask an administrator to add them with `wijkflow people add` or to run this "
                            "import.\n")
        assert counts(app) == before
    services.add_person(app, "nieuw@hengelo.example", name="Nieuw Persoon", acting=ADMIN)
    r = run("import", str(path), user=PL)  # everyone named is known now: the projectleider may import it
    assert r.exit_code == 0, r.stderr
    assert counts(app)[1:3] == (before[1] + 2, before[2] + 1)


def test_import_reports_progress_once_per_row(app, people, tmp_path):
    path = write(tmp_path, "p.csv", HEADER + "".join(
        f"Aanpak {i},Wijk {i},Hengelo,,execute,2025-09-01,{PL},,,,\n" for i in range(25)))
    seen = []
    report = services.import_portfolio(app, path, acting=PL, on_row=lambda done, total: seen.append((done, total)))
    assert len(report["created"]) == 25
    assert seen == [(i, 25) for i in range(1, 26)]


def test_import_refuses_unreadable_files_with_one_sentence(run, people, tmp_path):
    r = run("import", str(tmp_path / "missing.csv"), user=PL)
    assert (r.exit_code, r.stderr) == (2, f"Error: {tmp_path / 'missing.csv'}: no such file.\n")
    other = write(tmp_path, "p.txt", "x")
    r = run("import", str(other), user=PL)
    assert (r.exit_code, r.stderr) == (2, f"Error: {other}: import reads .csv, .yaml or .yml files.\n")
    cols = write(tmp_path, "c.csv", "name,wijk,leider\n")
    r = run("import", str(cols), user=PL)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"Error: {cols}, line 1: unknown column(s) leider; known: ")


def test_import_shows_a_progress_bar_on_a_terminal(app, people, db_url, tmp_path):
    import os
    import pty
    import select
    import subprocess

    from conftest import wijkflow_command

    path = write(tmp_path, "p.csv", HEADER + "".join(
        f"Aanpak {i},Wijk {i},Hengelo,,execute,2025-09-01,{PL},,,,\n" for i in range(5)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
    env.update({"WIJKFLOW_DATABASE_URL": db_url, "WIJKFLOW_USER": PL, "COLUMNS": "100"})
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([*wijkflow_command(), "import", str(path)], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=slave, env=env, timeout=60, text=True)
        os.close(slave)
        seen = b""
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0
    assert "Importing" in seen.decode() and "100%" in seen.decode()
    assert "imported 5 wijkaanpakken" in proc.stdout
