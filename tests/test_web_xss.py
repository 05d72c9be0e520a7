"""Script in any free text people type never runs on a page: every free-text field that reaches a page
holds an XSS payload, and every page showing it shows it escaped (and nowhere raw).

The fields: aanpak name, wijk, a person's name, evidence, comment, reason, party evidence, indicator
label and unit, measurement source, interpretation, theme and intended result, the plan's strong points,
bottlenecks, partners and activities.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import ADMIN, AUDITOR, PL, SG1, SG2, WR
from markupsafe import escape
from web_world import World, world_for
from webkit import csrf_of

from wijkflow import services

# The web layer over the services, the same on both engines: these run on SQLite only (the services,
# the sign-in SQL and the pages' forms are run on PostgreSQL too, in their own tests).
pytestmark = pytest.mark.sqlite_only

SCRIPT = "<script>alert(1)</script>"
ATTR = '"><img src=x onerror=alert(1)>'
PERSON = "xss@hengelo.example"


def payload(field: str, kind: str = SCRIPT) -> str:
    """A payload named after its field, so a page showing the wrong field cannot pass by accident."""
    return f"{field} {kind}"


FIELDS = {
    # field: (its payload, the pages (keys of PAGES) that show it)
    "name": (payload("naam", ATTR), ("tasks_pl", "tasks_sg1", "aanpak", "portfolio", "audit", "approve", "advance")),
    "wijk": (payload("wijk"), ("tasks_pl", "aanpak", "portfolio")),
    "person": (payload("persoon", ATTR), ("aanpak", "audit", "tasks_person")),
    "evidence": (payload("bewijs"), ("aanpak", "tasks_sg1", "approve", "audit")),
    "comment": (payload("toelichting", ATTR), ("aanpak", "audit")),
    "reason": (payload("reden"), ("aanpak", "audit")),
    "party_evidence": (payload("besluit", ATTR), ("aanpak", "audit")),
    "indicator": (payload("indicator"), ("aanpak", "measure")),
    "unit": (payload("eenheid", ATTR), ("aanpak", "measure")),
    "conclusion": (payload("duiding"), ("aanpak", "audit")),
    "theme": (payload("thema", ATTR), ("aanpak",)),
    "result": (payload("resultaat"), ("aanpak",)),
    "strength": (payload("sterk", ATTR), ("aanpak",)),
    "bottleneck": (payload("knelpunt"), ("aanpak",)),
    "activity": (payload("activiteit", ATTR), ("aanpak",)),
    "partner": (payload("partner"), ("aanpak",)),
}


def p(field: str) -> str:
    return FIELDS[field][0]


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world_for(request, tmp_path_factory) as w:
        yield w


@pytest.fixture(scope="module")
def pages(world: World) -> dict[str, str]:
    """One aanpak with a payload in every free-text field; every page that can show them, as HTML."""
    app = world.app
    services.add_person(app, PERSON, name=p("person"), acting=ADMIN)
    a = services.create_aanpak(app, p("name"), wijk=p("wijk"), gemeente="Hengelo", leader=PL, coordinators=(WR,),
                               approvers=(SG1, SG2), acting=PL)
    s = a["slug"]
    services.assign_role(app, s, PERSON, role="coordinator", acting=PL)
    for key in ("coalitie", "analyse_visie", "instrumenten_financiering"):
        services.complete(app, s, key, evidence=p("evidence"), acting=PL)
    services.complete(app, s, "lokaal_contract", evidence=p("evidence"), acting=PL)
    services.approve(app, s, "lokaal_contract_ondertekend", party="gemeente", evidence=p("party_evidence"),
                     acting=SG2)
    services.approve(app, s, "lokaal_contract_akkoord", comment=p("comment"), acting=SG1)
    services.advance(app, s, reason=p("reason"), acting=PL)
    services.complete(app, s, "uitvoeringsprogramma", evidence=p("evidence"), acting=PL)  # awaits SG1's approval
    services.add_indicator(app, s, "veiligheid", label=p("indicator"), unit=p("unit"), baseline=6, target=7,
                           acting=PL)
    world.clock.forward(days=2)
    services.measure(app, s, "veiligheid", "6.4", source="monitor", acting=WR)
    services.interpret(app, s, conclusion=p("conclusion"), indicators=("veiligheid",), acting=WR)
    services.link_theme(app, s, p("theme"), results=(p("result"),), acting=PL)
    services.add_analysis(app, s, strengths=(p("strength"),), bottlenecks=(p("bottleneck"),), acting=PL)
    services.add_partner(app, s, p("partner"), acting=PL)
    services.add_activity(app, s, p("activity"), partner=p("partner"), year=2026, acting=PL)
    pl, sg1, auditor, person = (world.client(e) for e in (PL, SG1, AUDITOR, PERSON))
    got = {
        "tasks_pl": pl.get("/"), "tasks_sg1": sg1.get("/"), "tasks_person": person.get("/"),
        "aanpak": pl.get(f"/aanpak/{s}"), "portfolio": pl.get("/portefeuille"),
        "audit": auditor.get("/audit", params={"aanpak": s}),
        "approve": sg1.get(f"/aanpak/{s}/goedkeuren/programma_akkoord"),
        "measure": pl.get(f"/aanpak/{s}/meten"), "advance": pl.get(f"/aanpak/{s}/volgende-fase"),
        "complete": pl.get(f"/aanpak/{s}/opleveren/teams"),
    }
    # A refused form shows the typed text again: it must come back escaped as well.
    got["refused"] = pl.post(f"/aanpak/{s}/meten", data={"indicator": "veiligheid", "value": "veel",
                                                         "source": p("evidence"), "csrf": csrf_of(pl)})
    assert got["refused"].status_code == 400
    for name, r in got.items():
        if name != "refused":
            assert r.status_code == 200, (name, r.text[:500])
    return {name: r.text for name, r in got.items()}


@pytest.mark.parametrize("field", FIELDS)
def test_every_free_text_field_is_escaped_on_every_page_that_shows_it(pages: dict[str, str], field: str) -> None:
    text, shown_on = FIELDS[field]
    for name in shown_on:
        assert str(escape(text)) in pages[name], f"{field} not shown (escaped) on {name}"


@pytest.mark.parametrize("kind", [SCRIPT, ATTR])
def test_no_page_carries_a_payload_raw(pages: dict[str, str], kind: str) -> None:
    raw = "<script>alert(1)" if kind == SCRIPT else "<img src=x onerror"
    for name, html in pages.items():
        assert raw not in html, f"raw payload on {name}"
    assert "<script" not in "".join(pages.values())


def test_the_refused_form_shows_the_typed_text_escaped(pages: dict[str, str]) -> None:
    assert str(escape(p("evidence"))) in pages["refused"]
