"""Event notifications (`on:` rules) against a real SMTP server: who hears what, once, when it happens."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import ADMIN, PL, SG1, SG2, WR
from smtp_server import smtp_app

from wijkflow import services
from wijkflow.app import App
from wijkflow.reminders import sweep as sweep_mod
from wijkflow.reminders.sweep import sweep
from wijkflow.services.corrections import withdraw


def received(server, start: int = 0) -> list[tuple[str, str]]:
    return sorted((m["To"].addresses[0].addr_spec, m["Subject"]) for m in server.messages[start:])


def crash_after_sending(app: App) -> None:
    """A sweep that dies between the server accepting a message and the database recording it."""
    real = sweep_mod.record

    def die(*args, **kwargs):
        raise KeyboardInterrupt

    sweep_mod.record = die
    try:
        with pytest.raises(KeyboardInterrupt):
            sweep(app)
    finally:
        sweep_mod.record = real


DELIVERABLES = ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering")


def test_approvers_hear_once_per_visit_even_after_a_crash_then_the_leader_hears_ready(server, app, aanpak,
                                                                                       db_url, clock):
    smtp = smtp_app(db_url, clock, server.port)
    for key in DELIVERABLES[:3]:
        services.complete(app, aanpak, key, evidence=f"{key}.pdf", acting=PL)
    assert sweep(smtp).sent == 0  # a deliverable is still open: nobody is asked to approve yet
    services.complete(app, aanpak, DELIVERABLES[3], evidence="begroting 2026", acting=PL)
    crash_after_sending(smtp)
    clock.forward(minutes=10)  # past the lease: another sweep sends what was not recorded
    sweep(smtp_app(db_url, clock, server.port))
    asked = [m for m in server.messages if m["Subject"].startswith(("Wacht op uw goedkeuring", "Waiting for your"))]
    by_person = {addr: {m["Message-ID"] for m in asked if m["To"].addresses[0].addr_spec == addr}
                 for addr in (SG1, SG2)}
    assert all(len(ids) == 1 for ids in by_person.values()), by_person  # a resend carries the same Message-ID
    assert {m["To"].addresses[0].addr_spec for m in asked} == {SG1, SG2}  # approvers only
    robert = next(m for m in asked if m["To"].addresses[0].addr_spec == SG1)
    text = robert.get_body(("plain",)).get_content()
    assert "Wijkaanpak Noord (wijk Noord) wacht op goedkeuring: voor de poort hieronder" in text
    assert "    - Lokaal contract opgesteld (bewijs: lokaal_contract.pdf), 2 maart 2026" in text
    assert "    - Lokaal contract goedgekeurd door de stuurgroep: nog niet goedgekeurd" in text
    assert "  wijkflow approve wijkaanpak-noord lokaal_contract_akkoord" in text
    assert "wijkflow complete" not in text
    # More changes in the same visit ask nobody again.
    services.set_deadline(app, aanpak, "lokaal_contract_akkoord", "2026-04-30", acting=PL)
    services.add_indicator(app, aanpak, "bewoners", label="Actieve bewoners", baseline=40, acting=WR)
    start = len(server.messages)
    sweep(smtp)
    assert [s for _, s in received(server, start) if "goedkeuring" in s.lower()] == []
    # The approval meets the gate: the projectleider, and only she, hears it is ready.
    services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)
    start = len(server.messages)
    sweep(smtp)
    assert received(server, start) == [(PL, "Klaar voor de volgende fase: Wijkaanpak Noord (Noord)")]
    ready = server.messages[-1].get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "kan door: alle criteria zijn vervuld voor\n  - Naar ontwerpen (naar de fase Ontwerpen)" in ready
    assert "wijkflow advance wijkaanpak-noord --to design" in ready


def test_a_phase_change_is_told_to_the_aanpaks_people_with_why(server, app, aanpak, db_url, clock):
    for key in DELIVERABLES:
        services.complete(app, aanpak, key, evidence="doc.pdf", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)
    smtp = smtp_app(db_url, clock, server.port)
    sweep(smtp)
    start = len(server.messages)
    services.advance(app, aanpak, acting=PL, reason="Stuurgroep 2 maart akkoord")
    sweep(smtp)
    got = received(server, start)
    assert Counter(addr for addr, _ in got) == {PL: 1, WR: 1, SG1: 1, SG2: 1}
    assert (WR, "Nieuwe fase: Wijkaanpak Noord (Noord) staat nu in Ontwerpen") in got
    assert (SG2, "New phase: Wijkaanpak Noord (Noord) is now in Ontwerpen") in got
    erna = next(m for m in server.messages[start:] if m["To"].addresses[0].addr_spec == WR)
    text = erna.get_body(("plain",)).get_content()
    assert "is op 2 maart 2026 van de fase Initiëren naar Ontwerpen gegaan, door Fleur Mensink." in text
    assert "Toelichting: Stuurgroep 2 maart akkoord" in text


def test_an_override_is_told_to_the_projectleider_and_the_approvers(server, app, aanpak, db_url, clock):
    smtp = smtp_app(db_url, clock, server.port)
    services.advance(app, aanpak, acting=ADMIN, override=True, reason="Besluit college 1 maart")
    sweep(smtp)
    overridden = [(a, s) for a, s in received(server) if "doorbroken" in s or "overridden" in s]
    assert overridden == sorted([(PL, "Poort doorbroken door een beheerder: Wijkaanpak Noord (Noord)"),
                                 (SG1, "Poort doorbroken door een beheerder: Wijkaanpak Noord (Noord)"),
                                 (SG2, "Gate overridden by an administrator: Wijkaanpak Noord (Noord)")])
    fleur = next(m for m in server.messages if m["To"].addresses[0].addr_spec == PL and "doorbroken" in m["Subject"])
    text = fleur.get_body(("plain",)).get_content()
    assert "gezet terwijl niet alle criteria vervuld waren" in text
    assert "Toelichting van de beheerder: Besluit college 1 maart" in text


def test_a_withdrawn_approval_is_told_to_the_projectleider_and_the_approvers(server, app, aanpak, db_url, clock):
    for key in DELIVERABLES:
        services.complete(app, aanpak, key, evidence="doc.pdf", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)
    smtp = smtp_app(db_url, clock, server.port)
    sweep(smtp)
    start = len(server.messages)
    withdraw(app, aanpak, "lokaal_contract_akkoord", reason="Te vroeg gegeven", acting=SG1)
    sweep(smtp)
    withdrawn = [(a, s) for a, s in received(server, start) if "ingetrokken" in s or "withdrawn" in s]
    assert withdrawn == sorted([(PL, "Goedkeuring ingetrokken: Wijkaanpak Noord (Noord)"),
                                (SG1, "Goedkeuring ingetrokken: Wijkaanpak Noord (Noord)"),
                                (SG2, "Approval withdrawn: Wijkaanpak Noord (Noord)")])
    fleur = next(m for m in server.messages[start:] if m["To"].addresses[0].addr_spec == PL)
    text = fleur.get_body(("plain",)).get_content()
    assert "is ingetrokken; de aanpak kan pas verder als er opnieuw is goedgekeurd" in text
