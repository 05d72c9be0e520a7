"""The web pages as a user checks them: what each page shows, and each form's confirmation and effect.

Real parts: Starlette's TestClient over the app `wijkflow serve` runs, a real SQLite file (PostgreSQL
with --postgres), real sessions (webkit.login_as). Effects are checked through the services the CLI
uses (`show`, `history`, `gate`).
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator

import pytest
from conftest import ADMIN, AUDITOR, PL, SG1, SG2, WR
from web_world import BOTH, OTHER, World, world_for
from webkit import csrf_of

from wijkflow import services


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world_for(request, tmp_path_factory) as w:
        yield w


@pytest.fixture(scope="module")
def noord(world: World) -> str:
    """Wijkaanpak Noord, in Ontwerpen, with an indicator and two measurements: the page to read."""
    slug = world.fresh("Wijkaanpak Noord", wijk="Noord")
    world.ready_to_advance(slug)
    world.clock.forward(days=3)
    services.advance(world.app, slug, reason="Lokaal contract getekend", acting=PL)
    services.add_indicator(world.app, slug, "actieve_bewoners", label="Actieve bewoners", unit="%", baseline=12,
                           target=20, acting=PL)
    world.clock.forward(days=10)
    services.measure(world.app, slug, "actieve_bewoners", "14", acting=WR)
    world.clock.forward(days=20)
    services.measure(world.app, slug, "actieve_bewoners", "15.5", acting=WR)
    services.complete(world.app, slug, "uitvoeringsprogramma", evidence="Uitvoeringsprogramma Noord 2026-2029",
                      acting=PL)
    return slug


def text(html: str) -> str:
    """The page as words: tags dropped, whitespace folded (what a reader sees, roughly)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").replace("&amp;", "&")


def form_post(client, path: str, data: dict[str, str]):
    return client.post(path, data={**data, "csrf": csrf_of(client)})


# --- reading ---


def test_tasks_page_lists_the_approval_waiting_for_an_approver(world: World) -> None:
    slug = world.fresh("Wijkaanpak Taken")
    world.ready_to_approve(slug)
    r = world.client(SG1).get("/")
    assert r.status_code == 200
    page = text(r.text)
    assert "Mijn taken" in page and "Goedkeuren" in page
    assert "Lokaal contract goedgekeurd door de stuurgroep" in page
    assert f'href="/aanpak/{slug}/goedkeuren/lokaal_contract_akkoord"' in r.text
    assert "https://hengelo.nl/contract.pdf" in page  # what the approver is asked to judge, one click away
    assert '<a href="https://hengelo.nl/contract.pdf" rel="noopener noreferrer">' in r.text


def test_tasks_page_lists_deliverables_owed_and_a_gate_ready_to_advance(world: World) -> None:
    owed = world.fresh("Wijkaanpak Schuld")
    ready = world.fresh("Wijkaanpak Klaar")
    world.ready_to_advance(ready)
    r = world.client(PL).get("/")
    page = text(r.text)
    assert f'href="/aanpak/{owed}/opleveren/coalitie"' in r.text
    assert "Coalitie en bestuurlijke alliantie" in page
    assert f'href="/aanpak/{ready}/volgende-fase?naar=design"' in r.text
    assert "Klaar voor de volgende fase" in page


def test_tasks_page_never_offers_the_approval_of_ones_own_deliverable(world: World) -> None:
    slug = world.fresh("Wijkaanpak Eigen", leader=BOTH, approvers=(BOTH, SG1))
    services.complete(world.app, slug, "lokaal_contract", evidence="Eigen contract", acting=BOTH)
    r = world.client(BOTH).get("/")
    assert f"/aanpak/{slug}/goedkeuren/" not in r.text
    assert f'href="/aanpak/{slug}/goedkeuren/lokaal_contract_akkoord"' in world.client(SG1).get("/").text


def test_tasks_page_shows_deadlines_and_stalled_phases(world: World) -> None:
    slug = world.fresh("Wijkaanpak Laat")
    services.set_deadline(world.app, slug, "coalitie", "2026-03-01", acting=PL)
    page = text(world.client(WR).get("/").text)
    assert "Deadlines" in page and "verlopen op" in page and "Coalitie en bestuurlijke alliantie" in page


def test_tasks_page_in_english_for_an_english_reader(world: World) -> None:
    slug = world.fresh("Wijkaanpak English")
    world.ready_to_approve(slug)
    page = text(world.client(SG2).get("/").text)
    assert "My tasks" in page and "To approve" in page and "Mijn taken" not in page


def test_aanpak_page_shows_gate_criteria_and_why_each_is_not_met(world: World, noord: str) -> None:
    r = world.client(SG1).get(f"/aanpak/{noord}")
    assert r.status_code == 200
    page = text(r.text)
    assert "Wijkaanpak Noord" in page and "Ontwerpen" in page
    assert "Poort naar Uitvoeren" in page and "nog niet open" in page
    for label in ("Uitvoeringsprogramma", "Organisatiestructuur ingericht", "Succesindicatoren met nulmeting",
                  "Uitvoeringsprogramma vastgesteld door de stuurgroep"):
        assert label in page
    gate = services.show_aanpak(world.app, noord, locale="nl")["gates"][0]
    for c in gate["criteria"]:
        assert text(c["why"]) in page  # the same reasons `show` / `gate` give, in Dutch
    assert "nog niet opgeleverd" in page  # why Organisatiestructuur is not met
    assert "Uitvoeringsprogramma Noord 2026-2029" in page  # evidence


def test_aanpak_page_draws_the_indicator_chart_and_the_timeline(world: World, noord: str) -> None:
    r = world.client(OTHER).get(f"/aanpak/{noord}")
    assert r.status_code == 200
    assert '<svg role="img" aria-label="Actieve bewoners"' in r.text
    assert "<polyline" in r.text  # two measurements: a line
    assert '<svg role="img" aria-label="Tijdlijn van de fasen"' in r.text
    assert "nulmeting" in r.text and "streefwaarde" in r.text
    visits = re.findall(r"<li><strong>([^<]+)</strong>: ([^<]+)</li>", r.text.split('<ol class="visits">')[1])
    assert [v[0] for v in visits] == ["Initiëren", "Ontwerpen"]  # each visit with its dates, in words too
    days = services.show_aanpak(world.app, noord)["days_in_phase"]
    assert visits[0][1] == "2 maart 2026 – 5 maart 2026 (3 dagen)" and visits[1][1].endswith(f"– nu ({days} dagen)")
    assert "style=" not in r.text and "<script" not in r.text  # the CSP allows neither


def test_aanpak_page_shows_history_lines_as_the_history_command_describes_them(world: World, noord: str) -> None:
    page = text(world.client(OTHER).get(f"/aanpak/{noord}").text)
    from wijkflow.events import describe

    events = services.history(world.app, noord)
    assert len(events) > 5
    for e in events[-5:]:
        assert text(describe(e, "nl", "sentence")) in page
    assert "Lokaal contract getekend" in page  # the reason of the phase change


def test_aanpak_page_shows_roles_and_what_the_visitor_can_do(world: World, noord: str) -> None:
    r = world.client(PL).get(f"/aanpak/{noord}")
    page = text(r.text)
    assert "Fleur Mensink" in page and "Robert Olde Heuvel" in page
    assert f'href="/aanpak/{noord}/opleveren/organisatiestructuur"' in r.text
    assert f'href="/aanpak/{noord}/meten"' in r.text
    other = world.client(OTHER).get(f"/aanpak/{noord}")
    assert "U kunt hier nu niets doen." in text(other.text)
    assert "/opleveren/" not in other.text


def test_unknown_aanpak_is_a_404_page(world: World) -> None:
    r = world.client(PL).get("/aanpak/bestaat-niet")
    assert r.status_code == 404


def test_portfolio_lists_and_filters(world: World, noord: str) -> None:
    c = world.client(OTHER)
    page = text(c.get("/portefeuille").text)
    assert "Wijkaanpak Noord" in page and "Portefeuille" in page
    r = c.get("/portefeuille", params={"wijk": "Noord"})
    assert r.status_code == 200
    rows = re.findall(r'<td><a href="/aanpak/([^"]+)">', r.text)
    assert rows == [noord]
    r = c.get("/portefeuille", params={"phase": "Ontwerpen"})
    assert noord in r.text
    bad = c.get("/portefeuille", params={"phase": "nergens"})
    assert bad.status_code == 404 and "nergens" in bad.text  # the service names the phases there are


def test_audit_query_export_and_verify_for_an_auditor(world: World, noord: str,
                                                     tmp_path_factory: pytest.TempPathFactory) -> None:
    c = world.client(AUDITOR)
    r = c.get("/audit", params={"aanpak": noord, "type": "phase_changed"})
    assert r.status_code == 200
    page = text(r.text)
    assert "Wijkaanpak Noord" in page and "Lokaal contract getekend" in page
    assert "Coalitie en bestuurlijke alliantie" in page  # the gate as it was met, spelled out
    r = c.get("/audit/export.csv", params={"aanpak": noord})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    cli = world.app  # the CLI's export of the same filter gives the same bytes
    from click.testing import CliRunner

    from wijkflow.cli import cli as wijkflow_cli

    out = CliRunner().invoke(wijkflow_cli, ["audit", "query", "--aanpak", noord, "--format", "csv"],
                             env={"WIJKFLOW_DATABASE_URL": world.url, "WIJKFLOW_CONFIG": "",
                                  "WIJKFLOW_NOW": world.clock.iso}, catch_exceptions=False)
    assert out.exit_code == 0
    assert r.text == out.stdout
    assert rows[0][0] == "id" and len(rows) == 1 + len(services.history(cli, noord))
    r = c.get("/audit/bundel.zip", params={"aanpak": noord})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    bundle = zipfile.ZipFile(io.BytesIO(r.content))
    assert sorted(bundle.namelist()) == sorted(f"wijkflow-audit/{n}" for n in (
        "events.jsonl", "proofs.jsonl", "checkpoint.txt", "selection.txt", "key.txt", "verify.py"))
    out = tmp_path_factory.mktemp("bundle")
    bundle.extractall(out)
    from wijkflow.services.audit_log import ensure_key

    key = out / "received-key.txt"  # the key as received separately: the installation's own
    key.write_text(ensure_key(world.app)["key"] + "\n")
    checked = subprocess.run([sys.executable, str(out / "wijkflow-audit" / "verify.py"), str(out / "wijkflow-audit"),
                              "--key", str(key)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    r = c.get("/audit/controle")
    assert r.status_code == 200
    head = services.audit.head(world.app) if hasattr(services, "audit") else None
    from wijkflow.services.audit import head as chain_head

    head = chain_head(world.app)
    assert head["hash"] in r.text and "De historie klopt" in text(r.text)


# --- the forms ---


def test_complete_confirms_then_records_the_deliverable(world: World) -> None:
    slug = world.fresh("Wijkaanpak Oost")
    c = world.client(PL)
    r = c.get(f"/aanpak/{slug}/opleveren/coalitie")
    assert r.status_code == 200
    name = services.show_aanpak(world.app, slug)["name"]
    assert f"U levert ‘Coalitie en bestuurlijke alliantie’ op voor {name}." in text(r.text)
    r = form_post(c, f"/aanpak/{slug}/opleveren/coalitie", {"evidence": "Convenant gemeente en partners"})
    assert r.status_code == 303 and r.headers["location"] == f"/aanpak/{slug}?klaar=completed"
    last = world.history(slug)[-1]
    assert last["type"] == "criterion_completed" and last["evidence"] == "Convenant gemeente en partners"
    assert last["actor"]["email"] == PL
    page = text(c.get(r.headers["location"]).text)
    assert "Opgeleverd." in page and "Convenant gemeente en partners" in page


def test_approve_confirms_what_is_approved_then_approves(world: World) -> None:
    slug = world.fresh("Wijkaanpak Zuid")
    world.ready_to_approve(slug)
    c = world.client(SG1)
    r = c.get(f"/aanpak/{slug}/goedkeuren/lokaal_contract_akkoord")
    name = services.show_aanpak(world.app, slug)["name"]
    page = text(r.text)
    assert f"U keurt ‘Lokaal contract goedgekeurd door de stuurgroep’ goed voor {name}." in page
    assert "Lokaal contract opgesteld" in page and "https://hengelo.nl/contract.pdf" in page
    r = form_post(c, f"/aanpak/{slug}/goedkeuren/lokaal_contract_akkoord", {"comment": "Akkoord namens de stuurgroep"})
    assert r.status_code == 303
    last = world.history(slug)[-1]
    assert last["type"] == "criterion_approved" and last["reason"] == "Akkoord namens de stuurgroep"
    gate = services.gate_status(world.app, slug)
    assert next(c for c in gate["criteria"] if c["key"] == "lokaal_contract_akkoord")["met"]


def test_four_eyes_refuses_approving_ones_own_deliverable_in_dutch_and_writes_nothing(world: World) -> None:
    slug = world.fresh("Wijkaanpak Vier Ogen", leader=BOTH, approvers=(BOTH, SG1))
    services.complete(world.app, slug, "lokaal_contract", evidence="Eigen contract", acting=BOTH)
    c = world.client(BOTH)
    shown = text(c.get(f"/aanpak/{slug}/goedkeuren/lokaal_contract_akkoord").text)
    assert "U hebt ‘Lokaal contract opgesteld’ zelf opgeleverd" in shown and "vier-ogenprincipe" in shown
    before = world.state()
    r = form_post(c, f"/aanpak/{slug}/goedkeuren/lokaal_contract_akkoord", {"comment": "Zelf akkoord"})
    assert r.status_code == 403
    page = text(r.text)
    assert "Dit mag u niet doen." in page and "Er is niets vastgelegd." in page
    assert "U hebt ‘Lokaal contract opgesteld’ zelf opgeleverd" in page and "vier-ogenprincipe" in page
    assert world.state() == before


def test_sign_for_a_party(world: World) -> None:
    slug = world.fresh("Wijkaanpak Partijen")
    c = world.client(SG2)  # in English
    r = c.get(f"/aanpak/{slug}/tekenen/lokaal_contract_ondertekend")
    name = services.show_aanpak(world.app, slug)["name"]
    assert f"You sign ‘Lokaal contract ondertekend door alle partijen’ for {name}" in text(r.text)
    assert '<option value="woningcorporatie">Woningcorporatie</option>' in r.text
    r = form_post(c, f"/aanpak/{slug}/tekenen/lokaal_contract_ondertekend",
                  {"party": "woningcorporatie", "evidence": "Besluit RvB 2026-03", "comment": ""})
    assert r.status_code == 303
    last = world.history(slug)[-1]
    assert last["type"] == "party_approved" and last["payload"]["party"] == "woningcorporatie"
    assert last["evidence"] == "Besluit RvB 2026-03"
    again = form_post(c, f"/aanpak/{slug}/tekenen/lokaal_contract_ondertekend",
                      {"party": "gemeente", "evidence": "Nog een keer"})
    assert again.status_code == 403  # each party by a different person
    assert "You already signed here for a party" in text(again.text)


def test_measure_records_a_measurement(world: World) -> None:
    slug = world.fresh("Wijkaanpak Meten")
    services.add_indicator(world.app, slug, "veiligheid", label="Veiligheidsbeleving", baseline=6.1, target=7,
                           acting=PL)
    c = world.client(WR)
    r = c.get(f"/aanpak/{slug}/meten")
    assert r.status_code == 200 and "Veiligheidsbeleving" in r.text
    r = form_post(c, f"/aanpak/{slug}/meten", {"indicator": "veiligheid", "value": "6.4",
                                               "source": "Veiligheidsmonitor"})
    assert r.status_code == 303
    assert [p["measurements"] for p in services.progress(world.app, slug) if p["key"] == "veiligheid"] == [1]
    bad = form_post(c, f"/aanpak/{slug}/meten", {"indicator": "veiligheid", "value": "veel"})
    assert bad.status_code == 400 and "De invoer klopt niet." in text(bad.text)


def test_advance_refused_lists_every_unmet_criterion_and_writes_nothing(world: World) -> None:
    slug = world.fresh("Wijkaanpak Te Vroeg")
    c = world.client(PL)
    shown = text(c.get(f"/aanpak/{slug}/volgende-fase").text)
    assert "Poort naar Ontwerpen" in shown and "nog niet open" in shown
    before = world.state()
    r = form_post(c, f"/aanpak/{slug}/volgende-fase", {"to": "design", "reason": ""})
    assert r.status_code == 409
    page = text(r.text)
    assert "De poort is nog niet open" in page and "Er is niets vastgelegd." in page
    for label in ("Coalitie en bestuurlijke alliantie", "Van analyse naar visie", "Lokaal contract opgesteld",
                  "Lokaal contract goedgekeurd door de stuurgroep", "Instrumenten en financiering geregeld"):
        assert label in page
    assert world.state() == before


def test_advance_confirms_then_moves_the_aanpak(world: World) -> None:
    slug = world.fresh("Wijkaanpak Door")
    world.ready_to_advance(slug)
    c = world.client(PL)
    name = services.show_aanpak(world.app, slug)["name"]
    page = text(c.get(f"/aanpak/{slug}/volgende-fase").text)
    assert f"U zet {name} van Initiëren naar Ontwerpen." in page
    r = form_post(c, f"/aanpak/{slug}/volgende-fase", {"to": "design", "reason": "Alles rond"})
    assert r.status_code == 303
    assert services.show_aanpak(world.app, slug)["phase"] == "design"
    last = [e for e in world.history(slug) if e["type"] == "phase_changed"][-1]
    assert last["reason"] == "Alles rond" and last["actor"]["email"] == PL


def test_an_approver_cannot_advance(world: World) -> None:
    slug = world.fresh("Wijkaanpak Niet Door")
    world.ready_to_advance(slug)
    c = world.client(SG1)
    before = world.state()
    r = form_post(c, f"/aanpak/{slug}/volgende-fase", {"to": "design"})
    assert r.status_code == 403 and "Dit mag u niet doen." in text(r.text)
    assert world.state() == before


def test_stylesheet_is_served(world: World) -> None:
    r = world.client().get("/static/wijkflow.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")


def test_admin_and_auditor_get_the_portfolio_and_an_admin_sees_audit_links(world: World) -> None:
    assert 'href="/audit"' in world.client(ADMIN).get("/portefeuille").text
    assert 'href="/audit"' not in world.client(PL).get("/portefeuille").text


# --- mail links to the pages ---


def test_mail_links_to_the_aanpak_page_when_the_server_address_is_known(app, aanpak: str) -> None:
    from wijkflow.services.reminders import preview_mail

    rules = ("fase_stagneert", "wacht_op_goedkeuring", "klaar_voor_volgende_fase", "fase_gewijzigd")
    for rule in rules:
        assert "/aanpak/" not in preview_mail(app, aanpak, rule)["text"]  # no server_url: no link, as before
    app.settings.server_url = "https://wijkflow.hengelo.example/"
    link = f"https://wijkflow.hengelo.example/aanpak/{aanpak}"
    tasks = 'href="https://wijkflow.hengelo.example/"'
    for rule in rules:
        for to in (PL, SG1, SG2):  # Dutch and English
            mail = preview_mail(app, aanpak, rule, to=to)
            assert link in mail["text"] and f'<a href="{link}">' in mail["html"]
            # Mijn taken too when the message asks for an approval or goes to an approver
            assert (tasks in mail["html"]) == (rule == "wacht_op_goedkeuring" or mail["role"] == "approver")


def test_a_stopped_aanpak_shows_but_offers_no_form_and_refuses_one(world: World) -> None:
    from wijkflow.services.status import stop

    slug = world.fresh("Wijkaanpak Gestopt")
    stop(world.app, slug, reason="Samengevoegd met Noord", acting=PL)
    c = world.client(PL)
    page = c.get(f"/aanpak/{slug}")
    assert page.status_code == 200 and "U kunt hier nu niets doen." in text(page.text)
    shown = c.get(f"/aanpak/{slug}/opleveren/coalitie")
    assert "afgesloten of stopgezet" in text(shown.text) and '<form method="post" class="form">' not in shown.text
    before = world.state()
    r = form_post(c, f"/aanpak/{slug}/opleveren/coalitie", {"evidence": "Toch"})
    assert r.status_code == 400 and "Er is niets vastgelegd." in text(r.text)
    assert world.state() == before


def test_an_unknown_criterion_is_a_404(world: World, noord: str) -> None:
    assert world.client(PL).get(f"/aanpak/{noord}/opleveren/bestaat_niet").status_code == 404


def test_approving_twice_is_a_conflict_and_writes_nothing(world: World) -> None:
    slug = world.fresh("Wijkaanpak Dubbel")
    world.ready_to_approve(slug)
    services.approve(world.app, slug, "lokaal_contract_akkoord", comment="Eerste", acting=SG2)
    c = world.client(SG1)
    assert "Dit criterium is al vervuld." in text(c.get(f"/aanpak/{slug}/goedkeuren/lokaal_contract_akkoord").text)
    before = world.state()
    r = form_post(c, f"/aanpak/{slug}/goedkeuren/lokaal_contract_akkoord", {"comment": "Tweede"})
    assert r.status_code == 409
    page = text(r.text)
    assert "Iemand anders was u voor, of het is al gebeurd." in page and "Jennifer Havinga" in page
    assert world.state() == before


def test_a_digest_links_each_aanpak_and_mijn_taken(app, people, tmp_path) -> None:
    import email as email_lib

    from wijkflow.services.reminders import send_reminders

    app.settings.server_url = "https://wijkflow.hengelo.example"
    app.settings.mail_digest = True
    slugs = []
    for name in ("Wijkaanpak Noord", "Wijkaanpak Zuid"):
        slug = services.create_aanpak(app, name, wijk=name.split()[-1], gemeente="Hengelo", leader=PL,
                                      approvers=(SG1,), acting=PL)["slug"]
        for key in ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering"):
            services.complete(app, slug, key, evidence=f"Stuk {key}", acting=PL)
        slugs.append(slug)
    send_reminders(app)
    [digest] = (tmp_path / "outbox").glob("digest*.eml")
    message = email_lib.message_from_bytes(digest.read_bytes())
    body = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    for slug in slugs:
        assert f"https://wijkflow.hengelo.example/aanpak/{slug}" in body
    assert "Wat op u wacht (Mijn taken): https://wijkflow.hengelo.example/" in body


def test_aanpak_page_in_english_for_an_english_reader(world: World, noord: str) -> None:
    r = world.client(SG2).get(f"/aanpak/{noord}")
    page = text(r.text)
    assert 'lang="en"' in r.text and '<svg role="img" aria-label="Phase timeline"' in r.text
    assert ">now</text>" in r.text and ">baseline</text>" in r.text and " days)</title>" in r.text
    assert "Gate to Uitvoeren" in page and "not completed yet" in page  # labels from the definition stay Dutch
    assert "What you can do now" in page and "Approve: Uitvoeringsprogramma vastgesteld door de stuurgroep" in page
