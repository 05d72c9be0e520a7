"""Idempotent import: keys, unchanged / conflict / --update, duplicates in one file, --dry-run per row."""

from __future__ import annotations

import json

from conftest import ADMIN, PL, WR

from wijkflow import services

HEADER = "name,wijk,gemeente,workflow,phase,since,leader,coordinators,approvers,indicators,target_date\n"
NOORD = (f"Wijkaanpak Noord,Noord,Hengelo,wijkaanpak,execute,2025-09-01,{PL},Erna Biezenaar <{WR}>,,"
         "actieve_bewoners=12->20,2027-12-31\n")


def write(tmp_path, text, name="portfolio.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_importing_the_readme_csv_twice_changes_nothing(app, people, run, db_state, tmp_path):
    path = write(tmp_path, HEADER + NOORD)
    r = run("import", path, user=ADMIN)
    assert r.exit_code == 0, r.stderr
    before = db_state()
    r = run("import", path, user=ADMIN)
    assert r.exit_code == 0, r.stderr
    assert "imported 0 wijkaanpakken (1 unchanged)" in r.stdout
    assert db_state() == before
    assert [a["slug"] for a in services.list_aanpakken(app)] == ["wijkaanpak-noord"]


def test_keys_compare_trimmed_and_case_folded(app, people, run, db_state, tmp_path):
    run("import", write(tmp_path, HEADER + NOORD), user=ADMIN)
    before = db_state()
    typed = NOORD.replace("Wijkaanpak Noord,Noord,Hengelo", " wijkaanpak  noord ,noord ,HENGELO")
    r = run("import", write(tmp_path, HEADER + typed, "again.csv"), user=ADMIN)
    assert r.exit_code == 0 and "1 unchanged" in r.stdout, r.stderr
    assert db_state() == before


def test_a_row_that_differs_is_a_conflict_unless_update(app, people, run, db_state, tmp_path):
    run("import", write(tmp_path, HEADER + NOORD), user=ADMIN)
    changed = NOORD.replace("actieve_bewoners=12->20", "actieve_bewoners=12->25")
    path = write(tmp_path, HEADER + changed, "changed.csv")
    before = db_state()
    r = run("import", path, user=ADMIN)
    assert r.exit_code == 2
    assert "line 2: conflict with wijkaanpak-noord: indicator actieve_bewoners target: stored 20.0, file 25.0" \
        in r.stderr and "--update" in r.stderr
    assert db_state() == before
    r = run("import", path, "--dry-run", user=ADMIN)
    assert r.exit_code == 2 and "conflict" in r.stdout
    assert db_state() == before
    r = run("import", path, "--update", user=ADMIN)
    assert r.exit_code == 0, r.stderr
    assert "1 updated" in r.stdout
    assert services.progress(app, "wijkaanpak-noord")[0]["target"] == 25
    assert any(e["type"] == "indicator_updated" for e in services.history(app, "wijkaanpak-noord"))


def test_a_phase_that_differs_is_never_changed_by_an_import(app, people, run, db_state, tmp_path):
    run("import", write(tmp_path, HEADER + NOORD), user=ADMIN)
    before = db_state()
    moved = NOORD.replace(",execute,", ",monitor,")
    r = run("import", write(tmp_path, HEADER + moved, "moved.csv"), "--update", user=ADMIN)
    assert r.exit_code == 2 and "phase: stored execute, file monitor; an import never changes these" in r.stderr
    assert db_state() == before


def test_duplicate_rows_in_one_file_are_refused_with_both_lines(app, people, run, db_state, tmp_path):
    before = db_state()
    r = run("import", write(tmp_path, HEADER + NOORD + NOORD.replace("Noord,Noord", "noord,NOORD ")), user=ADMIN)
    assert r.exit_code == 2
    assert "line 3: the same aanpak as line 2 (the same gemeente, wijk and name)" in r.stderr
    assert db_state() == before


def test_the_ref_column_is_the_key_when_given(app, people, run, db_state, tmp_path):
    header = "ref," + HEADER
    path = write(tmp_path, header + "Z-2025-001," + NOORD)
    assert run("import", path, user=ADMIN).exit_code == 0
    renamed = "z-2025-001 ," + NOORD.replace("Wijkaanpak Noord,", "Wijkaanpak Hengelo-Noord,")
    path2 = write(tmp_path, header + renamed, "renamed.csv")
    r = run("import", path2, "--dry-run", "--format", "json", user=ADMIN)
    assert r.exit_code == 2
    result = json.loads(r.stdout)["results"][0]
    assert (result["status"], result["differences"]) == ("conflict", ["name"])
    r = run("import", path2, "--update", user=ADMIN)
    assert r.exit_code == 0, r.stderr
    assert services.show_aanpak(app, "wijkaanpak-noord")["name"] == "Wijkaanpak Hengelo-Noord"
    assert "updated by import: name" in run("history", "wijkaanpak-noord").stdout
    r = run("import", write(tmp_path, header + "Z-2025-001," + NOORD.replace("Noord,Noord", "Oost,Oost"), "x.csv"),
            "--dry-run", "--format", "json", user=ADMIN)
    assert json.loads(r.stdout)["counts"] == {"new": 0, "unchanged": 0, "updated": 0, "conflict": 1}


def test_dry_run_reports_each_row(app, people, run, tmp_path):
    run("import", write(tmp_path, HEADER + NOORD), user=ADMIN)
    zuid = NOORD.replace("Wijkaanpak Noord,Noord", "Wijkaanpak Zuid,Zuid")
    r = run("import", write(tmp_path, HEADER + NOORD + zuid, "two.csv"), "--dry-run", "--format", "json", user=ADMIN)
    assert r.exit_code == 0, r.stderr
    statuses = [(x["line"], x["status"]) for x in json.loads(r.stdout)["results"]]
    assert statuses == [(2, "unchanged"), (3, "new")]


def test_yaml_import_dates_the_baseline_on_since_as_csv_does(app, people, run, tmp_path):
    path = write(tmp_path, f"""
- name: Wijkaanpak West
  wijk: West
  leader: {PL}
  phase: execute
  since: 2025-09-01
  indicators:
    - key: actieve_bewoners
      baseline: 12
""", "p.yaml")
    r = run("import", path, user=ADMIN)
    assert r.exit_code == 0, r.stderr
    assert services.progress(app, "wijkaanpak-west")[0]["baseline_date"] == "2025-09-01"
