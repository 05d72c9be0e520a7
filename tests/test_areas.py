"""CBS area codes on aanpakken: given on `new`, `import` and `area`, checked by form and against each
other, shown by `show` and `list`, filtered by `list --area`; bad codes write nothing."""

import json

import pytest
from conftest import ADMIN, PL, WR

from wijkflow.areas import gemeente_name, make_areas
from wijkflow.errors import InvalidInput


def new(run, name, *codes, gemeente=None):
    args = ["new", name, "--wijk", name, "--leader", PL, *codes]
    if gemeente:
        args += ["--gemeente", gemeente]
    return run(*args, user=PL)


@pytest.mark.parametrize("codes, expected", [
    ({"wijk": "wk016401"}, ("GM0164", "WK016401", ())),
    ({"buurten": ["BU0363AF03", "bu0363af01"]}, ("GM0363", None, ("BU0363AF01", "BU0363AF03"))),
    ({"gemeente": "GM1771", "wijk": "WK177101", "buurten": ["BU17710100"]},
     ("GM1771", "WK177101", ("BU17710100",))),
])
def test_codes_are_read_by_form_with_letters_where_cbs_uses_them(codes, expected):
    a = make_areas(**codes)
    assert (a.gemeente, a.wijk, a.buurten) == expected


@pytest.mark.parametrize("codes, message", [
    ({"gemeente": "GM164"}, "gemeente code 'GM164' is not a CBS gemeente code (GM and 4 digits, e.g. GM0164)."),
    ({"wijk": "WK01640"}, "wijk code 'WK01640' is not a CBS wijk code"),
    ({"buurten": ["BU0164010"]}, "buurt code 'BU0164010' is not a CBS buurt code"),
    ({"gemeente": "GM0153", "wijk": "WK016401"}, "Wijk WK016401 does not lie in gemeente GM0153"),
    ({"wijk": "WK016401", "buurten": ["BU01640201"]}, "Buurt BU01640201 does not lie in wijk WK016401"),
    ({"buurten": ["BU01640101", "BU01530101"]}, "lie in different gemeenten"),
])
def test_wrong_codes_are_refused_with_the_reason(codes, message):
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        make_areas(**codes)


def test_the_shipped_table_names_gemeenten():
    assert gemeente_name("GM0164") == "Hengelo"
    assert gemeente_name("GM0363") == "Amsterdam"
    assert gemeente_name("GM9999") is None


def test_new_with_codes_shows_them_and_list_filters_on_what_lies_in_what(run, app, people):
    assert new(run, "Noord", "--wijk-code", "WK016401", "--buurt-code", "BU01640102", "--buurt-code",
               "BU01640103").exit_code == 0
    assert new(run, "Berflo Es", "--buurt-code", "BU01640301").exit_code == 0
    assert new(run, "Centrum", "--gemeente-code", "GM0153", gemeente="Enschede").exit_code == 0
    assert new(run, "Zonder").exit_code == 0

    shown = json.loads(run("show", "noord", "--format", "json").stdout)
    assert shown["gemeente"] == "Hengelo"  # from the table: the code says which gemeente
    assert shown["areas"] == {"gemeente_code": "GM0164", "gemeente_naam": "Hengelo", "wijk_code": "WK016401",
                              "buurt_codes": ["BU01640102", "BU01640103"]}
    assert "  CBS codes: GM0164 WK016401 BU01640102 BU01640103 (Hengelo)" in run("show", "noord").stdout

    def slugs(area):
        r = run("list", "--area", area, "--format", "json")
        assert r.exit_code == 0, r.stderr
        return [a["slug"] for a in json.loads(r.stdout)]

    assert slugs("GM0164") == ["noord", "berflo-es"]
    assert slugs("wk016401") == ["noord"]
    assert slugs("BU01640102") == ["noord"]  # the aanpak on its wijk covers the buurt
    assert slugs("WK016403") == ["berflo-es"]  # an aanpak on one buurt lies in the wijk
    assert slugs("BU01640999") == []
    assert slugs("GM0153") == ["centrum"]
    listed = run("list", "--format", "csv").stdout.splitlines()
    assert listed[0].split(",")[5] == "areas"
    assert listed[1].split(",")[5] == "GM0164 | WK016401 | BU01640102 | BU01640103"


def test_bad_codes_on_new_and_list_write_nothing(run, app, people, db_state):
    before = db_state()
    r = new(run, "Noord", "--wijk-code", "WK016401", "--gemeente-code", "GM0153")
    assert (r.exit_code, r.stderr) == (2, "Error: Wijk WK016401 does not lie in gemeente GM0153 "
                                          "(its code starts with WK0153).\n")
    r = new(run, "Noord", "--gemeente-code", "GM0164", gemeente="Enschede")
    assert (r.exit_code, r.stderr) == (2, "Error: Gemeente code GM0164 is Hengelo, not Enschede.\n")
    r = run("list", "--area", "Noord")
    assert (r.exit_code, r.stderr) == (2, "Error: Area 'Noord' is not a CBS code: it starts with GM, WK or BU "
                                          "(e.g. GM0164, WK016401, BU01640102).\n")
    assert db_state() == before


def test_area_changes_codes_in_the_history_and_only_for_the_projectleider(run, app, people, db_state):
    assert new(run, "Noord", "--wijk-code", "WK016401").exit_code == 0
    r = run("area", "noord", "--buurt-code", "BU01640102", "--buurt-code", "BU01640104", "--format", "json",
            user=PL)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["areas"]["buurt_codes"] == ["BU01640102", "BU01640104"]
    history = run("history", "noord", "--format", "json").stdout
    changed = [e for e in json.loads(history) if e["type"] == "areas_changed"]
    assert [e["payload"] for e in changed] == [{"before": ["GM0164", "WK016401"],
                                                "after": ["GM0164", "WK016401", "BU01640102", "BU01640104"]}]
    assert "area codes changed: GM0164, WK016401, BU01640102, BU01640104" in run("history", "noord").stdout

    before = db_state()
    r = run("area", "noord", "--buurt-code", "BU01650102", user=PL)
    assert (r.exit_code, r.stderr) == (2, "Error: Buurt BU01650102 does not lie in wijk WK016401 "
                                          "(its code starts with BU016401).\n")
    r = run("area", "noord", "--wijk-code", "WK016402", user=WR)
    assert r.exit_code == 5 and r.stderr.count("\n") == 1
    r = run("area", "noord", user=PL)
    assert (r.exit_code, r.stderr) == (2, "Error: Say what changes: --gemeente-code, --wijk-code, --buurt-code "
                                          "and/or --clear.\n")
    assert db_state() == before

    r = run("area", "noord", "--clear", user=ADMIN)
    assert (r.exit_code, r.stdout) == (0, "Noord: no CBS codes.\n")
    assert run("list", "--area", "GM0164", "--format", "json").stdout == "[]\n"
