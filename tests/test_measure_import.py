"""`wijkflow measure import`: CBS Kerncijfers (CSV and OData JSON), the Leefbaarometer and plain CSV onto every
aanpak whose CBS code matches; the same file twice changes nothing; bad input writes nothing."""

import json
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ADMIN, PL, SG1, WR

from wijkflow import services
from wijkflow.models import AANPAK, INDICATOR, MEASUREMENT
from wijkflow.services.areas import change_areas

DATA = Path(__file__).resolve().parent / "data" / "opendata"
KWB_CSV, KWB_JSON = DATA / "kwb-2022-hengelo.csv", DATA / "kwb-2022-hengelo.json"
LBM = DATA / "leefbaarometer-scores-buurten-2002-2022.csv"
PEILING = DATA / "wijkpeiling-2026.csv"


@pytest.fixture
def portfolio(app, people):
    """Noord on wijk WK016401 (with the CBS indicators), Berflo Es on one buurt, Twekkel on two buurten."""
    for name, codes in (("Noord", {"wijk_code": "WK016401"}), ("Berflo Es", {"buurt_codes": ("BU01640301",)}),
                        ("Twekkel", {"buurt_codes": ("BU01640100", "BU01640102")})):
        services.create_aanpak(app, name, wijk=name, gemeente="Hengelo", leader=PL, coordinators=(WR,), acting=PL)
        change_areas(app, name.lower().replace(" ", "-"), acting=PL, **codes)
    for key in ("huishoudens_laag_inkomen", "huishoudens_sociaal_minimum", "actieve_bewoners"):
        services.add_indicator(app, "noord", key, from_catalogue=True, acting=PL)
    return app


def measurements(app):
    m, i, a = MEASUREMENT.c, INDICATOR.c, AANPAK.c
    with app.db.read() as conn:
        return conn.execute(
            sa.select(a.slug, i.key, m.value, m.measured_on, m.source, m.area_code, m.indeling)
            .select_from(MEASUREMENT.join(INDICATOR, i.id == m.indicator_id).join(AANPAK, a.id == i.aanpak_id))
            .order_by(a.slug, i.key, m.measured_on)).all()


def test_cbs_kerncijfers_csv_lands_on_the_aanpak_of_the_wijk_and_again_changes_nothing(run, portfolio, db_state):
    r = run("measure", "import", str(KWB_CSV), "--source", "cbs", "--year", "2022", user=PL)
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == (f"Read {KWB_CSV} (CSV, UTF-8, cells separated by ';'): 7 rows, 12 figures in "
                        "HuishoudensMetEenLaagInkomen_78 -> huishoudens_laag_inkomen, "
                        "HuishOnderOfRondSociaalMinimum_79 -> huishoudens_sociaal_minimum.")
    assert lines[1] == "recorded 2 measurements on 1 aanpakken; 0 already recorded."
    assert "  skipped berflo-es: it has no indicator 'huishoudens_laag_inkomen' (add it, or import with " \
           "--add-indicators)" in lines
    assert "  skipped twekkel: it covers several buurten and has no wijk code, so no single figure is its own" in lines
    label = "CBS Kerncijfers wijken en buurten (indeling 2022)"
    assert [tuple(m)[1:] for m in measurements(portfolio)] == [
        ("huishoudens_laag_inkomen", 12.4, date(2022, 1, 1), label, "WK016401", 2022),
        ("huishoudens_sociaal_minimum", 9.3, date(2022, 1, 1), label, "WK016401", 2022)]
    inds = {i["key"]: i for i in json.loads(run("indicators", "noord", "--format", "json").stdout)}
    assert (inds["huishoudens_laag_inkomen"]["latest"], inds["huishoudens_laag_inkomen"]["latest_source"]) == (
        12.4, label)
    events = [e for e in json.loads(run("history", "noord", "--format", "json").stdout)
              if e["type"] == "measurement_recorded"]
    # history gives each event the label of its indicator (issue 13), beside what the import stored
    assert events[0]["payload"] == {"indicator": "huishoudens_laag_inkomen",
                                    "label": "Huishoudens met een laag inkomen", "value": 12.4, "date": "2022-01-01",
                                    "source": label, "area_code": "WK016401", "indeling": 2022,
                                    "column": "HuishoudensMetEenLaagInkomen_78", "file": KWB_CSV.name}

    before = db_state()
    again = run("measure", "import", str(KWB_CSV), "--source", "cbs", "--year", "2022", user=PL)
    assert again.stdout.splitlines()[1] == "recorded 0 measurements on 0 aanpakken; 2 already recorded."
    odata = run("measure", "import", str(KWB_JSON), "--source", "cbs", "--year", "2022", user=PL)
    assert odata.exit_code == 0, odata.stderr
    assert odata.stdout.startswith(f"Read {KWB_JSON} (OData JSON of table 85318NED): 7 rows, 12 figures")
    assert odata.stdout.splitlines()[1] == "recorded 0 measurements on 0 aanpakken; 2 already recorded."
    assert db_state() == before  # the same figures, as CSV again or as JSON: nothing changes


def test_leefbaarometer_every_meting_year_with_added_indicators(sh, portfolio, db_url):
    r = sh("measure", "import", str(LBM), "--source", "leefbaarometer", "--add-indicators", "--format", "json",
           user=ADMIN, env={"WIJKFLOW_NOW": "2026-03-02T10:00:00+01:00"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["columns"] == {"lbm": "leefbaarometer_score", "fys": "lbm_fysieke_omgeving",
                              "onv": "lbm_overlast_onveiligheid", "soc": "lbm_sociale_samenhang",
                              "vrz": "lbm_voorzieningen", "won": "lbm_woningvoorraad"}
    assert len(out["recorded"]) == 18 and {m["aanpak"] for m in out["recorded"]} == {"berflo-es"}
    rows = [m for m in measurements(portfolio) if m.key == "leefbaarometer_score"]
    assert [(m.value, m.measured_on.isoformat(), m.indeling, m.source) for m in rows] == [
        (4.0921, "2018-01-01", 2022, "Leefbaarometer 3.0 (indeling 2022)"),
        (4.1034, "2020-01-01", 2022, "Leefbaarometer 3.0 (indeling 2022)"),
        (4.1187, "2022-01-01", 2022, "Leefbaarometer 3.0 (indeling 2022)")]


def test_plain_csv_from_excel_with_decimal_commas(run, portfolio):
    r = run("measure", "import", str(PEILING), "--source", "csv", "--year", "2026", user=WR)
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith(f"Read {PEILING} (CSV, UTF-8 with BOM, cells separated by ';')")
    got = [(m.slug, m.key, m.value) for m in measurements(portfolio)]
    assert got == [("noord", "actieve_bewoners", 14.5)]  # Berflo Es has no such indicator; Noord no veiligheid


def test_a_map_override_and_a_column_left_out(run, portfolio):
    services.add_indicator(portfolio, "noord", "bijstand", label="Personen met bijstand", unit="aantal",
                           direction="lower", acting=PL)
    r = run("measure", "import", str(KWB_CSV), "--source", "cbs", "--year", "2022", "--map",
            "PersonenPerSoortUitkeringBijstand=bijstand", "--map", "HuishOnderOfRondSociaalMinimum=", user=PL)
    assert r.exit_code == 0, r.stderr
    assert sorted((m.key, m.value) for m in measurements(portfolio)) == [("bijstand", 640.0),
                                                                          ("huishoudens_laag_inkomen", 12.4)]


@pytest.mark.parametrize("args, code, message", [
    (("--source", "cbs"), 2, "Error: {kwb}: say which year's CBS indeling its codes follow with --year (the year of "
                             "the Kerncijfers wijken en buurten, e.g. 2022).\n"),
    (("--source", "leefbaarometer"), 2, "Error: {kwb} has no column with the CBS area code (looked for bu_code or "
                                        "wk_code or gm_code); is it a Leefbaarometer 3.0 file?\n"),
    (("--source", "cbs", "--year", "2022", "--map", "Gemeentenaam_1=huishoudens_laag_inkomen"), 2,
     "Error: {kwb}, line 2, column Gemeentenaam_1: 'Hengelo' is not a number.\n"),
    (("--source", "cbs", "--year", "2022", "--map", "x=Niet Goed"), 2,
     "Error: --map 'x=Niet Goed' is not COLUMN=KEY (an indicator key: lower-case letters, digits and _; empty to "
     "leave the column out).\n"),
    (("--source", "cbs", "--year", "2022", "--peildatum", "2027-01-01"), 2,
     "Error: {kwb}: the peildatum 2027-01-01 of GM0164 lies in the future.\n"),
])
def test_bad_input_is_one_sentence_and_writes_nothing(run, portfolio, db_state, args, code, message):
    before = db_state()
    r = run("measure", "import", str(KWB_CSV), *args, user=PL)
    assert (r.exit_code, r.stderr) == (code, message.format(kwb=KWB_CSV))
    assert db_state() == before


def test_someone_without_a_role_on_any_matching_aanpak_is_refused(run, portfolio, db_state):
    before = db_state()
    r = run("measure", "import", str(KWB_CSV), "--source", "cbs", "--year", "2022", user=SG1)
    assert r.exit_code == 5
    assert r.stderr == ("Error: Only the projectleider, a coordinator or an administrator may record measurements; "
                        "robert@welbions.example is none of these on noord, berflo-es.\n")
    assert db_state() == before


def test_the_one_figure_form_still_works_and_dry_run_writes_nothing(run, portfolio, db_state):
    r = run("measure", "noord", "actieve_bewoners", "12,5", "--date", "2026-02-01", user=PL)
    assert (r.exit_code, r.stdout) == (0, "Recorded actieve_bewoners = 12.5 on 2026-02-01 for noord "
                                         "(measurement #1).\n")
    before = db_state()
    r = run("measure", "import", str(KWB_CSV), "--source", "cbs", "--year", "2022", "--dry-run", user=PL)
    assert r.exit_code == 0 and "Dry run: would record 2 measurements on 1 aanpakken" in r.stdout
    assert db_state() == before
