"""Arnhem (seed 001): a wijkprogramma with veranderopgaven and beoogde resultaten, start to closed.

Reminders are built in parallel (issue 3) and are left out of this walk on purpose.
"""

import json

from conftest import PL, SG1, SG2, WR

REF = "wijkprogramma-klarendal"


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def slugs(run, *args):
    return [a["slug"] for a in json.loads(ok(run("list", *args, "--format", "json")).stdout)]


def test_wijkprogramma_walks_through_themes_targets_and_a_bijsturen_loop(run, people, clock):
    ok(run("new", "Wijkprogramma Klarendal", "--wijk", "Klarendal", "--gemeente", "Arnhem", "--workflow",
           "wijkprogramma", "--leader", PL, "--coordinator", WR, "--approver", SG1, user=PL))
    ok(run("new", "Wijkprogramma Heijenoord en Lombok", "--wijk", "Heijenoord", "--gemeente", "Arnhem",
           "--workflow", "wijkprogramma", "--leader", PL, user=PL))

    ok(run("complete", REF, "wijkanalyse", "--evidence", "Van Wijken weten 2018", user=PL))
    ok(run("complete", REF, "inwoners_gehoord", "--evidence", "Wijkgesprekken Klarendal", user=PL))
    ok(run("advance", REF, user=PL))

    r = run("advance", REF, user=PL)
    assert r.exit_code == 3
    assert "[veranderopgaven]: 0 of 1 themes with at least 1 intended result(s)" in r.stderr
    assert "[indicatoren]: 0 indicators recorded, at least 1 needed" in r.stderr

    # Only the veranderopgaven of this definition can be linked.
    r = run("theme", "add", REF, "Duurzame wijk", user=WR)
    assert r.exit_code == 2
    assert r.stderr == ("Error: 'Duurzame wijk' is not one of the themes of wijkprogramma v2: Circulair Arnhem, "
                        "Doorbraak naar werk, Inclusief Arnhem, Vitale economie Arnhem Nijmegen, Zorg dichterbij.\n")
    ok(run("theme", "add", REF, "Circulair Arnhem", user=WR))
    r = run("gate", REF)
    assert "[veranderopgaven]: 0 of 1 themes with at least 1 intended result(s); no intended result yet for " \
           "Circulair Arnhem" in r.stdout
    ok(run("theme", "add", REF, "circulair_arnhem", "--result", "Schone wijk: extra inzet op schoonhouden",
           "--result", "Waterafvoer: verminderen wateroverlast", user=WR))
    ok(run("theme", "add", REF, "Doorbraak naar werk", "--result", "Meedoen: iedereen die kan levert een bijdrage",
           user=WR))
    ok(run("theme", "add", "wijkprogramma-heijenoord-en-lombok", "Vitale economie Arnhem Nijmegen", "--result",
           "Versterken van het ondernemersnetwerk", user=PL))
    themes = json.loads(ok(run("theme", "list", REF, "--format", "json")).stdout)
    assert [(t["label"], len(t["results"])) for t in themes] == [("Circulair Arnhem", 2), ("Doorbraak naar werk", 1)]

    assert slugs(run, "--theme", "Circulair Arnhem") == [REF]
    assert slugs(run, "--theme", "vitale_economie") == ["wijkprogramma-heijenoord-en-lombok"]
    assert ok(run("list", "--theme", "Zorg dichterbij")).stdout.strip() == "No wijkaanpakken match."

    # Indicators: the direction decides which side of the baseline a target may lie.
    r = run("indicator", "add", REF, "wateroverlast_meldingen", "--from-catalogue", "--baseline", "40",
            "--target", "55", user=PL)
    assert r.exit_code == 2
    assert r.stderr == ("Error: The target 55 must lie below the baseline 40, because lower is better for "
                        "'wateroverlast_meldingen' (use --direction to say otherwise).\n")
    ok(run("indicator", "add", REF, "wateroverlast_meldingen", "--from-catalogue", "--baseline", "40",
           "--baseline-date", "2026-01-01", "--target", "25", "--target-date", "2027-12-31", user=PL))
    ok(run("indicator", "add", REF, "werk", "--label", "Inwoners met betaald werk", "--unit", "%",
           "--baseline", "58", "--target", "62", user=PL))
    ok(run("complete", REF, "wijkprogramma", "--evidence", "Wijkprogramma Klarendal 2026-2028", user=PL))
    ok(run("approve", REF, "wijkprogramma_vastgesteld", user=SG1))
    ok(run("advance", REF, user=PL))

    ok(run("complete", REF, "inzet_gestart", "--evidence", "Team Leefomgeving en sociaal wijkteam", user=PL))
    clock.forward(180)
    ok(run("advance", REF, user=PL))

    # First progress report: targets not reached, so bijsturen instead of evaluating.
    ok(run("measure", REF, "wateroverlast_meldingen", "31", "--source", "Meldingen openbare ruimte", user=WR))
    ok(run("measure", REF, "werk", "57.5", "--source", "CBS wijkcijfers", user=WR))
    ok(run("interpret", REF, "--conclusion", "Wateroverlast daalt; werk blijft achter.", user=WR))
    ok(run("complete", REF, "voortgangsrapportage", "--evidence", "Perspectiefnota 2027", user=PL))
    r = run("advance", REF, "--to", "evaluate", user=PL)
    assert r.exit_code == 3
    assert ("[resultaten_bereikt]: 0 of 2 targets reached; not yet: wateroverlast_meldingen, werk"
            in r.stderr)
    progress = {i["key"]: i for i in json.loads(ok(run("indicators", REF, "--format", "json")).stdout)}
    assert progress["wateroverlast_meldingen"]["progress_pct"] == 60.0
    assert progress["wateroverlast_meldingen"]["status"] == "on the way"
    assert progress["werk"]["progress_pct"] == -12.5
    assert progress["werk"]["status"] == "moving away"
    table = ok(run("indicators", REF)).stdout
    assert "moving away" in table and "lower" in table

    ok(run("complete", REF, "bijsturingsvoorstel", "--evidence", "Extra inzet werkgevers in de wijk", user=PL))
    ok(run("advance", REF, "--to", "execute", "--reason", "Werk blijft achter", user=PL))
    ok(run("complete", REF, "inzet_gestart", "--evidence", "Werkgeversaanpak gestart", user=PL))
    clock.forward(200)
    ok(run("advance", REF, user=PL))

    ok(run("measure", REF, "wateroverlast_meldingen", "24", "--source", "Meldingen openbare ruimte", user=WR))
    ok(run("measure", REF, "werk", "62.4", "--source", "CBS wijkcijfers", user=WR))
    r = run("advance", REF, "--to", "evaluate", user=PL)
    assert "[duiding]: nobody has interpreted the figures in this phase yet" in r.stderr
    ok(run("interpret", REF, "--conclusion", "Beide streefwaarden gehaald.", user=SG1))
    ok(run("complete", REF, "voortgangsrapportage", "--evidence", "Perspectiefnota 2028", user=PL))
    ok(run("advance", REF, "--to", "evaluate", user=PL))

    ok(run("complete", REF, "evaluatie", "--evidence", "Evaluatie wijkprogramma Klarendal", user=PL))
    ok(run("approve", REF, "evaluatie_vastgesteld", user=SG1))
    r = ok(run("advance", REF, user=PL))
    assert "Evalueren [evaluate] -> Afgesloten [closed]" in r.stdout
    progress = {i["key"]: i for i in json.loads(ok(run("indicators", REF, "--format", "json")).stdout)}
    assert {k: v["status"] for k, v in progress.items()} == {"wateroverlast_meldingen": "reached", "werk": "reached"}
    assert SG2  # the second approver is not needed on this programme
