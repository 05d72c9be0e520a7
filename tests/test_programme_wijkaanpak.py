"""Hengelo (seed 004): the default wijkaanpak with its lokaal contract signed by every party and
its succesindicatoren, from start to closed through the CLI.

Reminders are built in parallel (issue 3) and are left out of this walk on purpose.
"""

import json

from conftest import ADMIN, PL, SG1, SG2, WR

PARTNER = "zorgzonderzorg@hengelo.example"
BEWONER = "bewonersraad@noord.example"


def ok(r):
    assert r.exit_code == 0, r.stderr
    return r


def test_wijkaanpak_noord_with_lokaal_contract_and_succesindicatoren(run, aanpak, clock):
    for email, name in ((PARTNER, "Gezonde Wijkaanpak"), (BEWONER, "Bewonersraad Noord")):
        ok(run("people", "add", email, "--name", name, user=ADMIN))
        ok(run("assign", aanpak, email, "--role", "approver", user=PL))

    for key in ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering"):
        ok(run("complete", aanpak, key, "--evidence", f"{key}.pdf", user=PL))
    ok(run("approve", aanpak, "lokaal_contract_akkoord", user=SG1))
    contract = "Lokaal contract Noord, getekend 2026-03-02"
    for who, party in ((SG2, "gemeente"), (SG1, "woningcorporatie"), (PARTNER, "partners")):
        ok(run("approve", aanpak, "lokaal_contract_ondertekend", "--party", party, "--evidence", contract, user=who))
    r = ok(run("approve", aanpak, "lokaal_contract_ondertekend", "--party", "Bewoners", "--evidence", contract,
               user=BEWONER))
    assert r.stdout.endswith("for Bewoners on wijkaanpak-noord; all parties signed.\n")
    assert "[x] Lokaal contract ondertekend door alle partijen [lokaal_contract_ondertekend] (optional): " \
           "signed by all 4 parties" in ok(run("gate", aanpak)).stdout
    ok(run("advance", aanpak, user=PL))

    r = run("advance", aanpak, user=PL)
    assert "[succesindicatoren]: 0 indicators recorded, at least 1 needed" in r.stderr
    ok(run("indicator", "add", aanpak, "actieve_bewoners", "--from-catalogue", "--baseline", "11",
           "--baseline-date", "2026-02-01", "--target", "15", "--target-date", "2028-12-31", user=WR))
    ok(run("indicator", "add", aanpak, "veiligheidsbeleving", "--from-catalogue", user=WR))
    r = run("advance", aanpak, user=PL)
    assert "[succesindicatoren]: no baseline for veiligheidsbeleving" in r.stderr
    for key in ("uitvoeringsprogramma", "organisatiestructuur", "participatiestructuur", "teams", "monitoringplan"):
        ok(run("complete", aanpak, key, "--evidence", f"{key}.pdf", user=PL))
    ok(run("approve", aanpak, "programma_akkoord", user=SG2))
    r = run("advance", aanpak, user=PL)
    assert r.exit_code == 3 and "1 criterion is not met" in r.stderr
    # The nulmeting of veiligheidsbeleving arrives later from the Veiligheidsmonitor.
    r = ok(run("indicator", "set", aanpak, "veiligheidsbeleving", "--baseline", "6.2", "--baseline-date",
               "2026-02-15", "--target", "7", user=WR))
    assert r.stdout == ("Indicator veiligheidsbeleving of wijkaanpak-noord: baseline 6.2 (2026-02-15), "
                        "target 7.\n")
    ok(run("advance", aanpak, user=PL))

    ok(run("complete", aanpak, "maatregelen_gestart", "--evidence", "Buurtbudget De Noork", user=PL))
    clock.forward(95)
    ok(run("advance", aanpak, user=PL))

    ok(run("measure", aanpak, "actieve_bewoners", "12.5", "--source", "Wijkpeiling", user=WR))
    ok(run("complete", aanpak, "monitoringsrapportage", "--evidence", "Monitor 2026", user=PL))
    ok(run("complete", aanpak, "bijsturingsvoorstel", "--evidence", "Meer inzet op jongeren", user=PL))
    ok(run("approve", aanpak, "bijsturing_akkoord", user=SG1))
    ok(run("advance", aanpak, "--to", "execute", "--reason", "Leren en bijsturen", user=PL))
    ok(run("complete", aanpak, "maatregelen_gestart", "--evidence", "Jongerenwerk gestart", user=PL))
    clock.forward(120)
    ok(run("advance", aanpak, user=PL))

    ok(run("measure", aanpak, "actieve_bewoners", "15.5", "--source", "Wijkpeiling", user=WR))
    ok(run("measure", aanpak, "veiligheidsbeleving", "7.2", "--source", "Veiligheidsmonitor", user=WR))
    ok(run("complete", aanpak, "monitoringsrapportage", "--evidence", "Monitor 2027", user=PL))
    ok(run("approve", aanpak, "doelen_bereikt", user=SG2))
    ok(run("advance", aanpak, "--to", "evaluate", user=PL))
    for key in ("evaluatierapport", "nazorgafspraken"):
        ok(run("complete", aanpak, key, "--evidence", f"{key}.pdf", user=PL))
    ok(run("approve", aanpak, "afsluiting_akkoord", user=SG1))
    r = ok(run("advance", aanpak, user=PL))
    assert "-> Afgesloten [closed]" in r.stdout

    status = {i["key"]: i["status"] for i in json.loads(ok(run("indicators", aanpak, "--format", "json")).stdout)}
    assert status == {"actieve_bewoners": "reached", "veiligheidsbeleving": "reached"}
    history = json.loads(ok(run("history", aanpak, "--format", "json")).stdout)
    updated = next(e for e in history if e["type"] == "indicator_updated")
    assert updated["payload"]["before"]["baseline"] is None and updated["payload"]["after"]["baseline"] == 6.2
