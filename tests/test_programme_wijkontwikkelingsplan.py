"""Geldrop-Mierlo (seed 003): a wijkontwikkelingsplan walked from start to closed through the CLI.

Reminders are built in parallel (issue 3) and are left out of this walk on purpose.
"""

from conftest import PL, SG1, SG2, WR

REF = "wijkontwikkelingsplan-braakhuizen-zuid"


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def test_wijkontwikkelingsplan_walks_from_initiative_to_closed(run, people, clock):
    ok(run("new", "Wijkontwikkelingsplan Braakhuizen Zuid", "--wijk", "Braakhuizen Zuid", "--gemeente",
           "Geldrop-Mierlo", "--workflow", "wijkontwikkelingsplan", "--leader", PL, "--coordinator", WR,
           "--approver", SG1, "--approver", SG2, user=PL))

    # Initiatief: programmamanager and participants first.
    r = run("advance", REF, user=PL)
    assert r.exit_code == 3
    assert "2 criteria are not met" in r.stderr
    ok(run("complete", REF, "programmamanager", "--evidence", "Aanstellingsbesluit 2019-014", user=PL))
    ok(run("complete", REF, "bewoners_partners_betrokken", "--evidence", "Bewonersavond 12 maart", user=PL))
    ok(run("advance", REF, user=PL))

    # Plan opstellen: the analysis and the agenda are data, checked by the gate.
    r = run("advance", REF, user=PL)
    assert r.exit_code == 3
    assert "[analyse]: analysis incomplete: 0 of 1 strong points, 0 of 1 knelpunten" in r.stderr
    assert "[uitvoeringsagenda]: no activity yet for Gemeente, Bewoners" in r.stderr
    assert "[ontmoetingsplaats]" not in r.stderr  # optional: shown in the gate, never blocking

    ok(run("plan", "analyse", REF, "--strong", "Actieve buurtvereniging", "--strong", "Veel groen",
           "--bottleneck", "Geen ontmoetingsplek in de wijk", user=WR))
    ok(run("plan", "partner", REF, "Woonbedrijf", user=PL))
    r = ok(run("plan", "activity", REF, "Buurtkamer inrichten", "--partner", "woonbedrijf", "--year", "2026",
               user=WR))
    assert 'Added activity #1 "Buurtkamer inrichten" (Woonbedrijf, 2026, gepland)' in r.stdout
    ok(run("plan", "activity", REF, "Verlichting Heuvelstraat", "--partner", "Gemeente", "--year", "2026",
           user=WR))
    r = run("advance", REF, user=PL)
    assert "[uitvoeringsagenda]: no activity yet for Bewoners" in r.stderr
    ok(run("plan", "activity", REF, "Speeltuin opknappen", "--partner", "Bewoners", "--year", "2026",
           "--status", "lopend", user=WR))

    ok(run("indicator", "add", REF, "ontmoetingsplekken", "--from-catalogue", "--baseline", "0",
           "--baseline-date", "2026-01-15", "--target", "2", "--target-date", "2027-12-31", user=PL))
    ok(run("indicator", "add", REF, "tevredenheid_woonomgeving", "--from-catalogue", "--baseline", "6,4",
           "--target", "7", user=PL))
    ok(run("complete", REF, "plan_document", "--evidence", "https://geldrop-mierlo.example/wop-bz.pdf", user=PL))
    ok(run("approve", REF, "plan_vastgesteld", "--comment", "Raadsinformatiebrief", user=SG1))
    r = ok(run("advance", REF, user=PL))
    assert "Wijkontwikkelingsplan opstellen [design] -> Uitvoeringsagenda uitvoeren [execute]" in r.stdout

    # Year one of the agenda.
    ok(run("complete", REF, "jaarplanning", "--evidence", "Jaarplan MDT 2026", user=PL))
    r = run("advance", REF, user=PL)
    assert r.exit_code == 3 and "[uitvoeringsjaar]: 0 of 300 days in phase" in r.stderr
    clock.forward(300)
    ok(run("advance", REF, user=PL))

    # Jaarlijkse voortgang: evaluation is refused while the agenda is open and nobody judged the figures.
    r = run("advance", REF, "--to", "evaluate", user=PL)
    assert r.exit_code == 3
    assert ("[metingen]: fewer than 1 measurements since entering this phase for ontmoetingsplekken, "
            "tevredenheid_woonomgeving") in r.stderr
    assert "[duiding]: nobody has interpreted the figures in this phase yet" in r.stderr
    assert "[agenda_afgerond]: activities still open: #1, #2, #3" in r.stderr

    ok(run("measure", REF, "ontmoetingsplekken", "1", "--source", "Wijkschouw", user=WR))
    ok(run("measure", REF, "tevredenheid_woonomgeving", "6.6", "--source", "Bewonerspeiling", user=WR))
    ok(run("interpret", REF, "--conclusion", "Buurtkamer werkt; tevredenheid stijgt licht.", user=WR))
    ok(run("complete", REF, "voortgangsrapportage", "--evidence", "Voortgang 2026", user=PL))
    ok(run("plan", "update", REF, "1", "--status", "done", user=WR))
    ok(run("plan", "update", REF, "2", "--status", "gereed", user=WR))
    # The loop back to a new year needs an open activity for every partner.
    r = run("advance", REF, "--to", "execute", user=PL)
    assert r.exit_code == 3
    assert "[agenda_volgend_jaar]: no open activity yet for Gemeente, Woonbedrijf" in r.stderr
    ok(run("plan", "activity", REF, "Tweede ontmoetingsplek", "--partner", "Woonbedrijf", "--year", "2027",
           user=WR))
    ok(run("plan", "activity", REF, "Wijkschouw met bewoners", "--partner", "Gemeente", "--year", "2027",
           user=WR))
    r = ok(run("advance", REF, "--to", "execute", "--reason", "Tweede uitvoeringsjaar", user=PL))
    assert "Jaarlijkse voortgang [monitor] -> Uitvoeringsagenda uitvoeren [execute]" in r.stdout

    # Year two; every gate record belongs to its own visit of the phase.
    r = run("advance", REF, user=PL)
    assert "[jaarplanning]: not completed yet" in r.stderr
    ok(run("complete", REF, "jaarplanning", "--evidence", "Jaarplan MDT 2027", user=PL))
    clock.forward(300)
    ok(run("advance", REF, user=PL))

    ok(run("measure", REF, "ontmoetingsplekken", "2", "--source", "Wijkschouw", user=WR))
    ok(run("interpret", REF, "--conclusion", "Doel ontmoetingsplekken gehaald.", user=SG2))
    clock.forward(hours=3)
    ok(run("measure", REF, "tevredenheid_woonomgeving", "7.1", "--source", "Bewonerspeiling", user=WR))
    r = run("gate", REF, "--to", "evaluate")
    assert "[duiding]: new measurements since the last interpretation; interpret the figures again" in r.stdout
    ok(run("interpret", REF, "--conclusion", "Beide streefwaarden gehaald; agenda kan af.", user=SG2))
    ok(run("complete", REF, "voortgangsrapportage", "--evidence", "Voortgang 2027", user=PL))
    for number, status in (("3", "done"), ("4", "done"), ("5", "dropped")):
        ok(run("plan", "update", REF, number, "--status", status, user=WR))
    ok(run("advance", REF, "--to", "evaluate", user=PL))

    # Procesevaluatie of the pilot, then close.
    r = run("advance", REF, user=PL)
    assert "[procesevaluatie_pilot]: not completed yet" in r.stderr
    ok(run("complete", REF, "procesevaluatie_pilot", "--evidence", "Evaluatiesessie 14 mei: succes- en faalfactoren",
           user=PL))
    ok(run("complete", REF, "leerpunten_gedeeld", "--evidence", "Leerpunten naar Coevering en Zesgehuchten",
           user=PL))
    r = run("approve", REF, "evaluatie_vastgesteld", user=PL)
    assert r.exit_code == 5  # the projectleider is not an approver
    ok(run("approve", REF, "evaluatie_vastgesteld", user=SG2))
    r = ok(run("advance", REF, user=PL))
    assert "Procesevaluatie en leerpunten [evaluate] -> Afgerond [closed]" in r.stdout

    r = ok(run("indicators", REF, "--format", "json"))
    import json

    by_key = {i["key"]: i for i in json.loads(r.stdout)}
    assert by_key["ontmoetingsplekken"]["status"] == "reached"
    assert by_key["ontmoetingsplekken"]["baseline_date"] == "2026-01-15"
    assert by_key["tevredenheid_woonomgeving"]["latest"] == 7.1
    assert by_key["tevredenheid_woonomgeving"]["progress_pct"] == 116.7
    plan = json.loads(ok(run("plan", "show", REF, "--format", "json")).stdout)
    assert [a["status"] for a in plan["activities"]] == ["done", "done", "done", "done", "dropped"]
    assert [p["name"] for p in plan["partners"]] == ["Gemeente", "Bewoners", "Woonbedrijf"]
    history = ok(run("history", REF, "--format", "json")).stdout
    assert history.count('"type": "indicators_interpreted"') == 3
    assert history.count('"type": "activity_updated"') == 5
