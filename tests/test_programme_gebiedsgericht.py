"""Nijmegen (seeds 000 and 002): gebiedsgericht werken with the gebiedstafel, start to closed.

Reminders are built in parallel (issue 3) and are left out of this walk on purpose.
"""

import json

from conftest import ADMIN, PL, SG1, WR

REF = "gebiedsaanpak-lindenholt"
SOC, FYS, VEI = "sociaal@nijmegen.example", "fysiek@nijmegen.example", "veiligheid@nijmegen.example"


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def sign_gebiedstafel(run, criterion, decision):
    ok(run("approve", REF, criterion, "--party", "sociaal", "--evidence", decision, user=SOC))
    ok(run("approve", REF, criterion, "--party", "Fysiek domein", "--evidence", decision, user=FYS))
    r = ok(run("approve", REF, criterion, "--party", "veiligheid", "--evidence", decision, user=VEI))
    assert r.stdout.endswith("; all parties signed.\n")


def test_gebiedsgericht_walks_with_the_gebiedstafel_and_a_herziening(run, people, clock):
    for email, name in ((SOC, "Sanne Sociaal"), (FYS, "Frank Fysiek"), (VEI, "Vera Veiligheid")):
        ok(run("people", "add", email, "--name", name, user=ADMIN))
    ok(run("new", "Gebiedsaanpak Lindenholt", "--wijk", "Lindenholt", "--gemeente", "Nijmegen", "--workflow",
           "gebiedsgericht", "--leader", PL, "--coordinator", WR, "--approver", SOC, "--approver", FYS,
           "--approver", VEI, "--approver", SG1, user=PL))

    r = run("advance", REF, user=PL)
    assert r.exit_code == 3 and "3 criteria are not met" in r.stderr
    ok(run("theme", "add", REF, "Gezondheidsaanpak", "--result", "Meer inwoners bewegen dagelijks", user=WR))
    ok(run("complete", REF, "wijknetwerk", "--evidence", "Netwerkkaart Lindenholt", user=PL))
    ok(run("complete", REF, "aanspreekpunten", "--evidence", "Brief aan bewoners, eind augustus", user=PL))
    ok(run("advance", REF, user=PL))

    ok(run("indicator", "add", REF, "leefbaarometer", "--from-catalogue", "--baseline", "5",
           "--baseline-date", "2026-01-01", "--target", "6", user=WR))
    ok(run("indicator", "add", REF, "actieve_bewoners", "--from-catalogue", "--baseline", "18", "--target", "22",
           user=WR))
    ok(run("complete", REF, "gebiedsagenda", "--evidence", "Gebiedsagenda Lindenholt 2026", user=PL))
    r = run("advance", REF, user=PL)
    assert r.exit_code == 3
    assert ("[gebiedstafel_agenda]: 0 of 3 parties signed; waiting for Fysiek domein, Sociaal domein, Veiligheid"
            in r.stderr)

    # The gebiedstafel signs: one person per discipline, each with the decision document.
    decision = "Besluitenlijst gebiedstafel Lindenholt 14-04-2026"
    r = run("approve", REF, "gebiedstafel_agenda", "--party", "sociaal", user=SOC)
    assert r.exit_code == 2
    assert "needs the decision document" in r.stderr
    r = run("approve", REF, "gebiedstafel_agenda", user=SOC)
    assert r.exit_code == 2
    assert r.stderr == ("Error: 'gebiedstafel_agenda' is signed per party: pass --party (one of fysiek, "
                        "sociaal, veiligheid) and --evidence with the decision document.\n")
    r = ok(run("approve", REF, "gebiedstafel_agenda", "--party", "sociaal", "--evidence", decision, user=SOC))
    assert r.stdout == ("Signed 'Gebiedsagenda vastgesteld aan de gebiedstafel' [gebiedstafel_agenda] for Sociaal "
                        f"domein on {REF}; still waiting for Fysiek domein, Veiligheid.\n")
    r = run("approve", REF, "gebiedstafel_agenda", "--party", "fysiek", "--evidence", decision, user=SOC)
    assert r.exit_code == 5
    assert r.stderr == ("Error: You already signed 'gebiedstafel_agenda' for Sociaal domein; each party must be "
                        "represented by a different person.\n")
    r = run("approve", REF, "gebiedstafel_agenda", "--party", "Sociaal domein", "--evidence", decision, user=FYS)
    assert r.exit_code == 6
    assert r.stderr == ("Error: Sociaal domein already signed 'gebiedstafel_agenda' (Sanne Sociaal, 2026-03-02); "
                        "nothing was changed.\n")
    r = run("approve", REF, "gebiedstafel_agenda", "--party", "wonen", "--evidence", decision, user=FYS)
    assert r.exit_code == 4
    r = run("approve", REF, "gebiedstafel_agenda", "--party", "fysiek", "--evidence", decision, user=WR)
    assert r.exit_code == 5  # a coordinator is not a gebiedstafel member here
    ok(run("approve", REF, "gebiedstafel_agenda", "--party", "Fysiek domein", "--evidence", decision, user=FYS))
    ok(run("approve", REF, "gebiedstafel_agenda", "--party", "veiligheid", "--evidence", decision, user=VEI))
    gate = json.loads(ok(run("gate", REF, "--format", "json")).stdout)
    table = next(c for c in gate["criteria"] if c["key"] == "gebiedstafel_agenda")
    assert table["met"] and table["why"] == "signed by all 3 parties"
    assert table["evidence"].startswith("Fysiek domein: Besluitenlijst")
    ok(run("advance", REF, user=PL))

    ok(run("complete", REF, "uitvoering", "--evidence", "Startbijeenkomst wijknetwerk", user=PL))
    clock.forward(120)
    ok(run("advance", REF, user=PL))

    # The Leefbaarometer does not move: the gebiedstafel reads that as a signal to revise the agenda.
    ok(run("measure", REF, "leefbaarometer", "5", "--source", "Leefbaarometer 2026", user=WR))
    ok(run("measure", REF, "actieve_bewoners", "19", "--source", "Wijkpeiling", user=WR))
    r = run("advance", REF, "--to", "evaluate", user=PL)
    assert r.exit_code == 3
    assert "[duiding]: nobody has interpreted the figures in this phase yet" in r.stderr
    assert "[gebiedstafel_duiding]: 0 of 3 parties signed" in r.stderr
    assert "[streefwaarden]" not in r.stderr  # optional: signals, does not block
    ok(run("interpret", REF, "--indicator", "leefbaarometer", "--conclusion",
           "Leefbaarometer stabiel; geen effect zichtbaar van de gezondheidsaanpak.", user=SOC))
    ok(run("approve", REF, "herzieningsbesluit", "--comment", "Stuurgroep Wijkgericht Werken 2026-09", user=SG1))
    ok(run("advance", REF, "--to", "design", "--reason", "Gebiedsagenda herzien", user=PL))

    # A new visit of the design phase: the earlier sign-offs do not carry over.
    r = run("advance", REF, user=PL)
    assert "[gebiedstafel_agenda]: 0 of 3 parties signed" in r.stderr
    ok(run("complete", REF, "gebiedsagenda", "--evidence", "Herziene gebiedsagenda Lindenholt", user=PL))
    sign_gebiedstafel(run, "gebiedstafel_agenda", "Besluitenlijst gebiedstafel 2026-10")
    ok(run("advance", REF, user=PL))
    ok(run("complete", REF, "uitvoering", "--evidence", "Beweegroute geopend", user=PL))
    clock.forward(150)
    ok(run("advance", REF, user=PL))

    ok(run("measure", REF, "leefbaarometer", "6", "--source", "Leefbaarometer 2027", user=WR))
    ok(run("measure", REF, "actieve_bewoners", "21", "--source", "Wijkpeiling", user=WR))
    ok(run("interpret", REF, "--conclusion", "Leefbaarheid verbeterd; actieve bewoners nog onder streefwaarde.",
           user=SOC))
    sign_gebiedstafel(run, "gebiedstafel_duiding", "Besluitenlijst gebiedstafel 2027-04")
    gate = ok(run("gate", REF, "--to", "evaluate")).stdout
    assert "[-] Streefwaarden bereikt [streefwaarden] (optional): 1 of 2 targets reached; not yet: actieve_bewoners" \
        in gate
    ok(run("advance", REF, "--to", "evaluate", user=PL))
    ok(run("complete", REF, "evaluatie", "--evidence", "Evaluatie gebiedsaanpak Lindenholt", user=PL))
    ok(run("approve", REF, "evaluatie_vastgesteld", user=SG1))
    r = ok(run("advance", REF, user=PL))
    assert "Evalueren [evaluate] -> Afgesloten [closed]" in r.stdout

    history = json.loads(ok(run("history", REF, "--format", "json")).stdout)
    signed = [e for e in history if e["type"] == "party_approved"]
    assert len(signed) == 9
    assert {e["actor"]["email"] for e in signed} == {SOC, FYS, VEI}
    assert all(e["evidence"] for e in signed)
