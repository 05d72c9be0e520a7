"""A real browser (Debian's chromium through Selenium and chromedriver) using the served app as people do.

The scenario of issue 18: a stuurgroep member signs in through the OpenID provider (the test provider
on 127.0.0.1, its own login form filled in the browser), finds the approval waiting on "Mijn taken",
opens the aanpak, confirms and approves; then the projectleider, in a second browser with its own
cookies, signs in with a link by email (read from the outbox, opened in the browser that asked) and
moves the aanpak to its next phase. The test asserts what a person sees (the Dutch texts, the new
phase) and what the database says (the services' `show_aanpak` and history). JavaScript is off in
both browsers (the pages are meant to work without any), and the console must stay free of errors
(nothing refused by the Content-Security-Policy, nothing that failed to load).

One server and one database for the module (uvicorn in a thread on 127.0.0.1, the real clock, since
the provider's id_tokens carry real times); SQLite only: the pages' behaviour on PostgreSQL is
covered by the page tests, and a browser per engine would double the slowest module.
Screenshots of every step go into the test's tmp directory, or WIJKFLOW_SCREENSHOTS=DIR.
"""

from __future__ import annotations

import email
import email.policy
import http.server
import logging
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import Browser, browser_session  # noqa: F401  (the fixture)
from conftest import ADMIN, PL, SG1, SG2, WR
from oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, oidc_provider  # noqa: F401  (the fixture)
from webkit import Served, build, serve_in_thread, stop_served

from wijkflow import services
from wijkflow.app import App

APPROVAL = "lokaal_contract_akkoord"
APPROVAL_LABEL = "Lokaal contract goedgekeurd door de stuurgroep"
EVIDENCE = "https://hengelo.example/stukken/lokaal-contract.pdf"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, oidc_provider: Provider) -> Iterator[Served]:  # noqa: F811
    """Wijkaanpak Noord waiting for the stuurgroep's approval of its lokaal contract (every other deliverable
    of Initiëren done), served with the test OpenID provider as the way to sign in."""
    base = tmp_path_factory.mktemp("site")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(base / "xdg-data"))  # the audit signing key, never in $HOME
        app = App.open(str(base / "wijkflow.db"), outbox_dir=str(base / "outbox"), cookie_secure=False,
                       oidc_issuer=oidc_provider.issuer, oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET)
        app.db.init()
        services.add_person(app, ADMIN, name="Ada Admin", role="admin")
        services.add_person(app, PL, name="Fleur Mensink", acting=ADMIN)
        services.add_person(app, WR, name="Erna Biezenaar", acting=ADMIN)
        services.add_person(app, SG1, name="Robert Olde Heuvel", acting=ADMIN)
        services.add_person(app, SG2, name="Jennifer Havinga", locale="en", acting=ADMIN)
        slug = services.create_aanpak(app, "Wijkaanpak Noord", wijk="Noord", gemeente="Hengelo", leader=PL,
                                      coordinators=(WR,), approvers=(SG1, SG2), acting=PL)["slug"]
        for key in ("coalitie", "analyse_visie", "instrumenten_financiering"):
            services.complete(app, slug, key, evidence=f"Notitie {key}", acting=PL)
        services.complete(app, slug, "lokaal_contract", evidence=EVIDENCE, acting=PL)
        served = serve_in_thread(build(app), app)
        app.settings.server_url = str(served)  # where links in mails point
        served.slug = slug  # type: ignore[attr-defined]
        served.outbox = base / "outbox"  # type: ignore[attr-defined]
        try:
            yield served
        finally:
            stop_served(served)
            app.close()
            oidc_provider.reset()  # the provider is shared by the session's other modules


def sign_in_with_oidc(b: Browser, site: Served, provider: Provider, address: str) -> None:
    """From a page that needs a sign-in, through the provider's login form and back, as the person does it."""
    b.wait_for(lambda b: "/aanmelden" in b.url, "the sign-in page")
    assert b.heading() == "Aanmelden"
    b.shot("aanmelden")
    provider.login_as(None)  # the provider asks who it is (a real one would ask a password too)
    b.click("Aanmelden met het account van uw organisatie")
    b.wait_for(lambda b: b.url.startswith(provider.issuer), "the identity provider")
    assert b.heading() == "Test-IdP"
    b.fill("email", address)
    b.shot("identity provider")
    b.click("Log in")
    b.wait_for(lambda b: b.url.startswith(str(site)) and "/aanmelden" not in b.url, "the way back from the provider")


def mailed_link(outbox: Path, site: Served, to: str, timeout: float = 10) -> str:
    """The sign-in link in the mail to `to` (the server sends it just after answering, so wait for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if to in str(msg["To"]):
                text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
                found = re.findall(re.escape(str(site)) + r"/aanmelden/link/[A-Za-z0-9_-]+", text)
                assert len(found) == 1, text
                return str(found[0])
        time.sleep(0.05)
    raise AssertionError(f"no sign-in link for {to} in {outbox}")


def test_a_stuurgroep_member_approves_in_the_browser_and_the_projectleider_advances(
        browser_session, site: Served, oidc_provider: Provider) -> None:  # noqa: F811
    app, slug = site.app, site.slug  # type: ignore[attr-defined]
    aanpak_url = f"{site}/aanpak/{slug}"

    # --- Robert, stuurgroep member: signs in at the provider, finds the approval on Mijn taken ---
    with browser_session("robert", javascript=False) as b:  # the pages need no script: none runs
        b.open(f"{site}/")
        sign_in_with_oidc(b, site, oidc_provider, SG1)
        assert b.url == f"{site}/"
        assert b.heading() == "Mijn taken"
        tasks = b.section("h-approvals")
        assert "Goedkeuren" in tasks and APPROVAL_LABEL in tasks and "Wijkaanpak Noord (Noord)" in tasks
        assert "Aangemeld als Robert Olde Heuvel" in b.text()
        b.shot("mijn taken")
        cookie = b.cookie("wijkflow_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # plain http here

        b.click("Wijkaanpak Noord", within="section[aria-labelledby=h-approvals]")
        b.wait_for(lambda b: b.url == aanpak_url, "the aanpak page")
        assert b.heading() == "Wijkaanpak Noord"
        assert "Initiëren" in b.fact("Fase")
        assert "Poort naar Ontwerpen" in b.text() and EVIDENCE in b.text()
        b.shot("aanpak voor goedkeuren")

        b.click(f"Goedkeuren: {APPROVAL_LABEL}")
        b.wait_for(lambda b: b.url == f"{aanpak_url}/goedkeuren/{APPROVAL}", "the confirmation page")
        assert b.heading() == "Goedkeuren"
        assert f"U keurt ‘{APPROVAL_LABEL}’ goed voor Wijkaanpak Noord." in b.text()
        assert services.show_aanpak(app, slug)["gates"][0]["passed"] is False  # only looking writes nothing
        b.fill("comment", "Akkoord namens de stuurgroep.")
        b.shot("bevestigen")
        b.click("Ja, goedkeuren")

        b.wait_for(lambda b: "klaar=approved" in b.url, "the aanpak page after approving")
        assert b.heading() == "Wijkaanpak Noord"
        assert "Goedgekeurd. Het staat in de historie." in b.text()
        assert "Akkoord namens de stuurgroep." in b.text()
        b.shot("goedgekeurd")

        b.open(f"{site}/")
        assert APPROVAL_LABEL not in b.text()  # nothing left to approve there
        b.shot("mijn taken daarna")
        # No style or script refused by the CSP, nothing of wijkflow's that failed to load (the test
        # provider has no favicon: not ours).
        assert [c for c in b.complaints if oidc_provider.issuer not in c] == []

    gate = services.show_aanpak(app, slug)["gates"][0]
    given = next(c for c in gate["criteria"] if c["key"] == APPROVAL)
    assert given["met"] and given["by"]["email"] == SG1 and given["comment"] == "Akkoord namens de stuurgroep."
    assert gate["passed"] is True
    approved = [e for e in services.history(app, slug) if e["type"] == "criterion_approved"]
    assert [e["actor"]["email"] for e in approved] == [SG1]

    # --- Fleur, projectleider, in another browser: signs in with a link by email, moves the aanpak on ---
    with browser_session("fleur", javascript=False) as b:
        b.open(f"{site}/")
        b.wait_for(lambda b: "/aanmelden" in b.url, "the sign-in page")
        b.fill("email", PL)
        b.click("Stuur mij een link")
        b.wait_for(lambda b: b.heading() == "Kijk in uw e-mail", "the page saying a link is on its way")
        assert "binnen 15 minuten" in b.text()
        b.shot("link gevraagd")
        b.open(mailed_link(site.outbox, site, PL))  # type: ignore[attr-defined]
        assert "Druk op de knop om u aan te melden met de link uit uw e-mail." in b.text()
        b.shot("link geopend")
        b.click("Aanmelden", within="main")
        b.wait_for(lambda b: b.url == f"{site}/", "Mijn taken after signing in")
        assert b.heading() == "Mijn taken" and "Aangemeld als Fleur Mensink" in b.text()
        ready = b.section("h-advance")
        assert "Klaar voor de volgende fase" in ready and "Wijkaanpak Noord (Noord) → Ontwerpen" in ready
        b.shot("mijn taken projectleider")

        b.click("Naar de volgende fase", within="section[aria-labelledby=h-advance]")
        b.wait_for(lambda b: "/volgende-fase" in b.url, "the confirmation page")
        assert b.heading() == "Naar de volgende fase"
        assert "U zet Wijkaanpak Noord van Initiëren naar Ontwerpen." in b.text()
        b.shot("bevestigen volgende fase")
        b.click("Ja, naar de volgende fase")

        b.wait_for(lambda b: "klaar=advanced" in b.url, "the aanpak page after advancing")
        assert "De aanpak is naar de volgende fase gegaan." in b.text()
        assert "Ontwerpen" in b.fact("Fase")
        b.shot("volgende fase")
        assert b.complaints == []

    shown = services.show_aanpak(app, slug)
    assert (shown["phase"], shown["phase_label"]) == ("design", "Ontwerpen")
    moved = [e for e in services.history(app, slug) if e["type"] == "phase_changed"]
    assert [(e["to_phase"], e["actor"]["email"]) for e in moved] == [("design", PL)]


# --- the browser itself, without the app: when this fails, the environment is at fault, not wijkflow ---


@pytest.fixture(scope="module")
def static_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("static")
    (root / "index.html").write_text("<!doctype html><html lang=nl><head><meta charset=utf-8><title>Proef</title>"
                                      "</head><body><h1>Mijn taken</h1><p>Één goedkeuring wacht.</p>"
                                      "<script>document.querySelector('h1').textContent = 'script ran'</script>"
                                      "</body></html>",
                                      encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


def test_the_browser_runs_headless_here_without_downloading_anything(
        browser_session, static_page: str, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG, logger="selenium.webdriver.common.driver_finder")
    with browser_session("proef", javascript=False) as b:
        # Selenium Manager (which downloads drivers and browsers) is never started: the driver is given.
        assert "Skipping Selenium Manager" in caplog.text
        b.open(static_page)
        assert b.heading() == "Mijn taken"  # the page's script did not run: javascript=False holds
        assert "Één goedkeuring wacht." in b.text()
        shot: Path = b.shot("proef")
    assert shot.stat().st_size > 1000
