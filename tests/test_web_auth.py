"""Signing in to `wijkflow serve`, as people and as attackers would try it (issue 18).

OpenID Connect runs for real: the app fetches discovery and keys from tests/oidc_provider.py over HTTP
and exchanges the code there; the browser's hops between app and provider are made with httpx. Sign-in
links go out as .eml files through the configured mailer and are read back from the outbox.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from conftest import ADMIN, AUDITOR, PL, SG2
from starlette.testclient import TestClient
from webkit import BASE, bearer, csrf_of, login_as, set_cookie

from wijkflow import services
from wijkflow.models import API_TOKEN, LOGIN_LINK, WEB_SESSION
from wijkflow.services import signin
from wijkflow.web.identity import SESSION_COOKIE

STRANGER = "onbekend@elders.example"



def rows(app, table) -> list:
    with app.db.read() as conn:
        return list(conn.execute(sa.select(table).order_by(table.c.id)))


# --- OpenID Connect ---


def oidc_sign_in(client: TestClient, next_path: str = "/tokens") -> httpx.Response:
    """The browser's way through: the app -> the provider (real HTTP) -> back to the app with a code."""
    start = client.get("/aanmelden/oidc", params={"next": next_path})
    assert start.status_code == 303, start.text
    at_provider = httpx.get(start.headers["location"])
    assert at_provider.status_code == 302, at_provider.text
    back = at_provider.headers["location"]
    assert back.startswith(f"{BASE}/aanmelden/oidc/terug?")
    return client.get(back[len(BASE):])


def test_oidc_signs_a_known_person_in_and_goes_where_they_were_going(client, app, people, oidc):
    oidc.login_as(PL)
    r = oidc_sign_in(client, "/tokens")
    assert (r.status_code, r.headers["location"]) == (303, "/tokens")
    assert client.get("/tokens").status_code == 200
    [session] = rows(app, WEB_SESSION)
    assert session.method == "oidc" and session.ended_at is None
    assert oidc.token_requests == 1  # the code was exchanged once, at the provider's token endpoint


def test_the_authorization_request_carries_pkce_state_and_nonce(client, app, people, oidc):
    r = client.get("/aanmelden/oidc")
    query = httpx.URL(r.headers["location"]).params
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32 and query["client_id"] == "wijkflow-test"
    assert query["redirect_uri"] == f"{BASE}/aanmelden/oidc/terug"


@pytest.mark.parametrize("tamper", ["signature", "key", "nonce", "issuer", "audience", "expired"],
                         ids=["signature flipped", "signed with another key", "wrong nonce", "another issuer",
                              "another audience", "expired"])
def test_an_id_token_that_fails_a_check_signs_nobody_in(client, app, people, oidc, tamper):
    oidc.login_as(PL)
    oidc.tamper = tamper
    r = oidc_sign_in(client)
    assert r.status_code == 403
    assert ("Het antwoord van de identiteitsprovider doorstond de controles niet (handtekening, uitgever, "
            "ontvanger, geldigheid of nonce); u bent niet aangemeld.") in r.text
    assert rows(app, WEB_SESSION) == []
    assert client.get("/tokens").status_code == 303


def test_an_unverified_email_signs_nobody_in(client, app, people, oidc):
    oidc.login_as(PL, verified=False)
    r = oidc_sign_in(client)
    assert r.status_code == 403 and "email_verified" in r.text
    assert rows(app, WEB_SESSION) == []


def test_an_unknown_or_forgotten_person_is_refused_with_a_clear_dutch_page(client, app, people, oidc):
    oidc.login_as(STRANGER)
    r = oidc_sign_in(client)
    assert r.status_code == 403
    assert f"U bent bij de identiteitsprovider aangemeld als {STRANGER}, maar niemand met dat adres" in r.text
    services.forget_person(app, SG2, acting=SG2)
    oidc.login_as(SG2)
    r = oidc_sign_in(client)
    assert r.status_code == 403 and "niemand met dat adres is bekend" in r.text
    assert rows(app, WEB_SESSION) == []


def test_a_code_from_another_browsers_sign_in_is_refused(client, app, people, oidc, web):
    """Login CSRF: an attacker's own code, pushed into a victim's browser, does not sign the victim in as them."""
    oidc.login_as(PL)
    attacker = client.get("/aanmelden/oidc")
    code_url = httpx.get(attacker.headers["location"]).headers["location"]
    with TestClient(web, base_url=BASE, follow_redirects=False) as victim:
        r = victim.get(code_url[len(BASE):])
        assert r.status_code == 403 and "niet in deze browser begonnen" in r.text
        assert victim.get("/tokens").status_code == 303
    assert rows(app, WEB_SESSION) == []


def test_next_is_only_ever_a_path_on_this_site(client, app, people, oidc):
    oidc.login_as(PL)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        r = oidc_sign_in(client, target)
        assert (r.status_code, r.headers["location"]) == (303, "/"), target
    r = client.get("/aanmelden", params={"next": "//evil.example"})
    assert 'name="next" value="/"' in r.text


# --- sign-in links ---


@pytest.fixture
def links(app):
    app.settings.server_url = BASE
    return app


def ask_link(client: TestClient, address: str) -> TestClient:
    r = client.post("/aanmelden/link", data={"email": address, "csrf": csrf_of(client), "next": "/tokens"})
    assert r.status_code == 200, r.text
    return r


def mailed_links(outbox: Path) -> list[str]:
    found = []
    for path in sorted(outbox.glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        found += re.findall(r"https://testserver(/aanmelden/link/[A-Za-z0-9_-]+)", text)
    return found


def use_link(client: TestClient, path: str):
    page = client.get(path)
    assert page.status_code == 200 and "Druk op de knop" in page.text
    secret = path.rsplit("/", 1)[1]
    return client.post("/aanmelden/link/gebruiken", data={"link": secret, "csrf": csrf_of(client)})


def test_a_sign_in_link_works_once_in_the_browser_that_asked(client, links, people, tmp_path):
    ask_link(client, PL)
    [path] = mailed_links(tmp_path / "outbox")
    assert client.get(path).status_code == 200  # opening it (a mail scanner does) uses nothing up
    r = use_link(client, path)
    assert (r.status_code, r.headers["location"]) == (303, "/tokens")
    assert client.get("/tokens").status_code == 200
    client.cookies.delete(SESSION_COOKIE)
    again = use_link(client, path)
    assert again.status_code == 403 and "al gebruikt" in again.text
    [link] = rows(links, LOGIN_LINK)
    assert link.used_at is not None
    assert [s.method for s in rows(links, WEB_SESSION)] == ["link"]


def test_a_sign_in_link_opened_in_another_browser_is_refused(client, links, people, tmp_path, web):
    ask_link(client, PL)
    [path] = mailed_links(tmp_path / "outbox")
    with TestClient(web, base_url=BASE, follow_redirects=False) as other:
        r = use_link(other, path)
        assert r.status_code == 403 and "dezelfde browser" in r.text
    assert rows(links, WEB_SESSION) == [] and rows(links, LOGIN_LINK)[0].used_at is None


def test_a_sign_in_link_expires_after_15_minutes(client, links, people, tmp_path, clock):
    ask_link(client, PL)
    [path] = mailed_links(tmp_path / "outbox")
    clock.forward(minutes=15, seconds=1)
    r = use_link(client, path)
    assert r.status_code == 403 and "verlopen" in r.text
    assert rows(links, WEB_SESSION) == []


def test_the_answer_is_the_same_whether_the_address_is_known_or_not(client, links, people, tmp_path):
    known = ask_link(client, PL).text
    unknown = ask_link(client, STRANGER).text
    csrf = re.compile(r'name="csrf" value="[^"]+"')
    assert csrf.sub("", known).replace(PL, "X") == csrf.sub("", unknown).replace(STRANGER, "X")
    assert len(mailed_links(tmp_path / "outbox")) == 1 and len(rows(links, LOGIN_LINK)) == 1


def test_the_link_mail_is_in_the_persons_language(client, links, people, tmp_path):
    ask_link(client, SG2)  # Jennifer reads English
    [path] = sorted((tmp_path / "outbox").glob("*.eml"))
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "Your sign-in link for wijkflow" and msg["To"].endswith(f"<{SG2}>")


def test_links_need_server_url_so_they_never_point_at_a_host_a_request_named(client, app, people, tmp_path):
    app.settings.server_url = None
    r = client.post("/aanmelden/link", data={"email": PL, "csrf": csrf_of(client)},
                    headers={"host": "evil.example"})
    assert r.status_code == 503 and "server_url" in r.text
    assert not (tmp_path / "outbox").exists()


def test_every_sign_in_gets_a_new_session_and_ends_the_one_before(client, links, people, tmp_path):
    before = login_as(client, links, AUDITOR)
    old_cookie = client.cookies.get(SESSION_COOKIE)
    ask_link(client, PL)
    [path] = mailed_links(tmp_path / "outbox")
    use_link(client, path)
    assert client.cookies.get(SESSION_COOKIE) not in (None, old_cookie)
    old, new = rows(links, WEB_SESSION)
    assert old.ended_at is not None and new.ended_at is None and new.secret_hash != old.secret_hash
    assert signin.session_person(links, before) is None


def test_signing_out_ends_the_session_for_the_cookie_too(client, app, people):
    login_as(client, app, PL)
    cookie = client.cookies.get(SESSION_COOKIE)
    r = client.post("/afmelden", data={"csrf": csrf_of(client)})
    assert (r.status_code, r.headers["location"]) == (303, "/aanmelden")
    assert "Max-Age=0" in r.headers["set-cookie"]
    set_cookie(client, SESSION_COOKIE, cookie)  # a copy of the cookie kept from before
    assert client.get("/tokens").status_code == 303
    assert rows(app, WEB_SESSION)[0].ended_at is not None


def test_a_session_ends_after_session_hours(client, app, people, clock):
    login_as(client, app, PL)
    csrf = csrf_of(client)
    clock.forward(hours=8, seconds=1)
    assert client.get("/tokens").status_code == 303
    assert client.post("/afmelden", data={"csrf": csrf}).status_code == 303  # signing out stays possible
    clock.forward(days=1)
    signin.cli_login_start(app, "laptop")
    login_as(client, app, PL)  # the next sign-in clears away what nobody can use any more
    assert [s.expires_at > clock.now for s in rows(app, WEB_SESSION)] == [True]


# --- personal access tokens ---


def test_a_token_made_on_the_page_is_shown_once_and_works_for_the_api(client, app, people):
    login_as(client, app, PL)
    r = client.post("/tokens", data={"name": "laptop", "days": "30", "csrf": csrf_of(client)})
    token = re.search(r"wf_[A-Za-z0-9_-]{43}", r.text)[0]
    listing = client.get("/tokens").text
    assert token not in listing and token[:10] in listing and "laptop" in listing
    me = client.get("/api/ik", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["email"] == PL
    [row] = rows(app, API_TOKEN)
    assert row.last_used_at is not None and (row.expires_at - row.created_at).days == 30


def test_an_expired_or_revoked_token_is_refused_with_401(client, app, people, clock):
    made = signin.create_token(app, PL, "script", days=1)
    header = {"Authorization": f"Bearer {made['token']}"}
    assert client.get("/api/ik", headers=header).status_code == 200
    clock.forward(days=1, seconds=1)
    r = client.get("/api/ik", headers=header)
    assert r.status_code == 401 and r.json()["type"] == "LoginRequired" and "expired" in r.json()["error"]
    other = bearer(app, PL)
    signin.revoke_token(app, PL, 2)
    assert client.get("/api/ik", headers=other).status_code == 401


def test_revoking_on_the_page_works_for_ones_own_tokens_only(client, app, people, db_state):
    mine = signin.create_token(app, PL, "mine")
    theirs = signin.create_token(app, AUDITOR, "theirs")
    login_as(client, app, PL)
    before = db_state()
    r = client.post(f"/tokens/{theirs['id']}/intrekken", data={"csrf": csrf_of(client)})
    assert r.status_code == 403 and db_state() == before
    r = client.post(f"/tokens/{mine['id']}/intrekken", data={"csrf": csrf_of(client)})
    assert (r.status_code, r.headers["location"]) == (303, "/tokens")
    assert [t.revoked_at is not None for t in rows(app, API_TOKEN)] == [True, False]
    login_as(client, app, ADMIN)  # an administrator may revoke anyone's
    assert client.post(f"/tokens/{theirs['id']}/intrekken", data={"csrf": csrf_of(client)}).status_code == 303


def test_token_commands_make_list_and_revoke_with_events_in_the_history(run, app, people):
    r = run("token", "create", "laptop", "--days", "7", user=PL)
    assert r.exit_code == 0, r.stderr
    token = r.stdout.strip()
    assert re.fullmatch(r"wf_[A-Za-z0-9_-]{43}", token) and "shown only now" in r.stderr
    listed = run("token", "list", "--format", "json", user=PL)
    [item] = __import__("json").loads(listed.stdout)
    assert item["prefix"] == token[:10] and item["state"] == "active" and token not in listed.stdout
    assert run("token", "create", "x", "--days", "91", user=PL).stderr == (
        "Error: A token lasts 1 to 90 days (the setting token_days), not 91.\n")
    assert run("token", "revoke", "1", user=SG2).exit_code == 5
    r = run("token", "revoke", "1", user=PL)
    assert (r.exit_code, r.stdout) == (0, "Revoked token 1 (laptop).\n")
    assert run("token", "revoke", "1", user=PL).exit_code == 6
    with app.db.read() as conn:
        events = [r.type for r in conn.execute(sa.text("SELECT type FROM audit_event ORDER BY id"))]
    assert events[-2:] == ["token_created", "token_revoked"]
    assert run("audit", "verify").exit_code == 0


# --- `wijkflow login SERVER`: the device flow's services and its confirm page ---


def test_a_cli_login_is_confirmed_in_the_browser_and_the_token_is_handed_out_once(client, app, people):
    started = signin.cli_login_start(app, "laptop-fleur")
    assert signin.cli_login_poll(app, started["device_code"]) == {"status": "pending"}
    login_as(client, app, PL)
    page = client.get("/cli/koppelen", params={"code": started["user_code"].lower().replace("-", "")})
    assert "laptop-fleur" in page.text and started["user_code"] in page.text
    r = client.post("/cli/koppelen", data={"code": started["user_code"], "csrf": csrf_of(client)})
    assert r.status_code == 200 and "gekoppeld" in r.text
    got = signin.cli_login_poll(app, started["device_code"])
    assert got["status"] == "approved" and got["email"] == PL
    assert client.get("/api/ik", headers={"Authorization": f"Bearer {got['token']}"}).json()["email"] == PL
    assert signin.cli_login_poll(app, started["device_code"]) == {"status": "expired"}
    [row] = rows(app, API_TOKEN)
    assert row.name == "wijkflow login (laptop-fleur)"


def test_a_cli_login_nobody_confirmed_expires(app, people, clock):
    started = signin.cli_login_start(app, "laptop")
    clock.forward(minutes=11)
    assert signin.cli_login_poll(app, started["device_code"]) == {"status": "expired"}


# --- the served app: real HTTP, and what its log says ---


def test_the_access_log_never_holds_a_token_a_link_or_a_code(served, people, oidc, caplog, tmp_path):
    app = served.app
    token = signin.create_token(app, PL, "script")["token"]
    oidc.login_as(PL)
    with caplog.at_level(logging.INFO, logger="wijkflow.web.access"), httpx.Client(base_url=served) as browser:
        assert browser.get("/api/ik", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        start = browser.get("/aanmelden/oidc")
        back = httpx.get(start.headers["location"]).headers["location"]
        code = httpx.URL(back).params["code"]
        signed_in = browser.get(back)
        assert signed_in.status_code == 303
        browser.post("/aanmelden/link", data={"email": PL, "csrf": "whatever"})
        assert browser.get("/aanmelden/link/SECRET-IN-THE-PATH").status_code == 200
        deadline = time.monotonic() + 5  # the server writes its line just after the answer went out
        while "GET /aanmelden/link/" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
    logged = caplog.text
    assert "GET /api/ik 200" in logged and "GET /aanmelden/oidc/terug 303" in logged
    for secret in (token, code, "SECRET-IN-THE-PATH", "state="):
        assert secret not in logged
    assert "GET /aanmelden/link/… 200" in logged


# --- `wijkflow serve` ---


def test_serve_check_says_what_it_would_do_on_the_embedded_default(run, app, people, tmp_path):
    r = run("serve", "--check", "--port", "8123", env={"WIJKFLOW_LOGIN_LINKS": "true"})
    assert r.exit_code == 0, r.stderr
    assert "Cookies without Secure, because this is plain http on this computer only (http://127.0.0.1:8123)" \
        in r.stdout
    assert ("People sign in at http://127.0.0.1:8123/aanmelden with a one-time link by email, sent as .eml files "
            f"into {tmp_path / 'outbox'} (no smtp_host set).") in r.stdout
    assert r.stdout.endswith("Would listen on http://127.0.0.1:8123.\n")
    r = run("serve", "--check", "--host", "0.0.0.0", env={"WIJKFLOW_SERVER_URL": "https://wijkflow.hengelo.example"})
    assert "Cookies are Secure" not in r.stdout and "Cookies without Secure" not in r.stdout
    r = run("serve", "--check", "--host", "0.0.0.0")
    assert "Cookies are Secure, so browsers send them back over https only" in r.stdout
    assert "Set server_url (WIJKFLOW_SERVER_URL)" in r.stdout


def csrf_after(page: httpx.Response) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text)[1]


def test_serve_starts_with_one_command_and_someone_added_signs_in_with_a_link(tmp_path):
    """Trying it out: no settings at all, the embedded SQLite database, plain http on 127.0.0.1."""
    import os
    import subprocess

    from conftest import wijkflow_command
    from webkit import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("WIJKFLOW_")}
    env["WIJKFLOW_CONFIG"] = str(tmp_path / "none.toml")
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    port = free_port()
    server = subprocess.Popen([*wijkflow_command(), "serve", "--port", str(port)], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        said = []
        for line in server.stdout:  # type: ignore[union-attr]
            said.append(line)
            if line.startswith("Listening on"):
                break
        assert said[0].startswith("Created the wijkflow database at ") and said[-1] == (
            f"Listening on http://127.0.0.1:{port} (Ctrl+C stops).\n"), said
        data = Path(os.environ["XDG_DATA_HOME"]) / "wijkflow"
        assert (data / "session-key").stat().st_mode & 0o777 == 0o600
        added = subprocess.run([*wijkflow_command(), "people", "add", PL, "--name", "Fleur", "--role", "admin"],
                               env=env, capture_output=True, text=True)
        assert added.returncode == 0, added.stderr
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as browser:
            form = browser.get("/aanmelden")
            assert "Secure" not in form.headers["set-cookie"]
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
            assert browser.post("/aanmelden/link", data={"email": PL, "csrf": csrf}).status_code == 200
            deadline = time.monotonic() + 10  # the link goes out just after the page (a background task)
            while not list((data / "outbox").glob("*.eml")) and time.monotonic() < deadline:
                time.sleep(0.02)
            [eml] = (data / "outbox").glob("*.eml")
            text = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
            link = re.search(rf"http://127.0.0.1:{port}(/aanmelden/link/\S+)",
                             text.get_body(preferencelist=("plain",)).get_content())[1]  # type: ignore[union-attr]
            confirm = browser.get(link)
            secret = re.search(r'name="link" value="([^"]+)"', confirm.text)[1]
            csrf = re.search(r'name="csrf" value="([^"]+)"', confirm.text)[1]
            signed_in = browser.post("/aanmelden/link/gebruiken", data={"link": secret, "csrf": csrf})
            assert signed_in.status_code == 303 and browser.get("/tokens").status_code == 200
            made = browser.post("/tokens", data={"name": "script", "csrf": csrf_after(browser.get("/tokens"))})
            token = re.search(r"wf_[A-Za-z0-9_-]{43}", made.text)[0]
            assert browser.get("/api/ik?secret=in-the-query", headers={"Authorization": f"Bearer {token}"}
                               ).status_code == 200
    finally:
        server.terminate()
        rest, _ = server.communicate(timeout=10)
    log = "".join(said) + rest
    assert "GET /api/ik 200" in log and "GET /aanmelden/link/… 200" in log
    for secret_text in (token, "in-the-query", secret, "Authorization"):
        assert secret_text not in log  # uvicorn's access log is off, wijkflow's writes no query or header


# --- the sign-in pages speak Dutch, and English to people who chose it ---

AUTH_TEMPLATES = ("aanmelden", "aanmelden_verstuurd", "aanmelden_link", "aanmelden_geweigerd", "tokens",
                  "token_nieuw", "cli_koppelen", "cli_gekoppeld", "fout")


def test_every_text_on_the_sign_in_pages_has_dutch():
    from wijkflow.i18n import t

    folder = Path(__file__).resolve().parents[1] / "wijkflow" / "web" / "templates"
    texts = {m for name in AUTH_TEMPLATES
             for m in re.findall(r'\bt\("([^"]+)"', (folder / f"{name}.html.j2").read_text(encoding="utf-8"))}
    assert len(texts) > 40
    assert sorted(x for x in texts if t("nl", x) == x) == []


def test_the_token_page_is_in_english_for_english_people_and_the_cli_page_asks_for_the_code(client, app, people):
    login_as(client, app, SG2)
    page = client.get("/tokens").text
    assert "Access tokens" in page and "You have no access tokens yet." in page and 'lang="en"' in page
    login_as(client, app, PL)
    page = client.get("/tokens").text
    assert "Toegangstokens" in page and "U hebt nog geen toegangstokens." in page
    form = client.get("/cli/koppelen").text
    assert "De code die de terminal toont" in form and 'action="/cli/koppelen"' in form
    r = client.get("/cli/koppelen", params={"code": "ZZZZ-ZZZZ"})
    assert r.status_code == 404 and "No CLI waiting with code ZZZZ-ZZZZ" in r.text


def test_the_test_providers_login_form_signs_in_whoever_a_browser_types(client, app, people, oidc):
    """What the browser test does: no address chosen by the test, the provider's own form asks for it."""
    start = client.get("/aanmelden/oidc")
    form = httpx.get(start.headers["location"])
    assert form.status_code == 200 and 'name="email"' in form.text
    action = re.search(r'action="([^"]+)"', form.text)[1].replace("&amp;", "&")
    back = httpx.post(action, data={"email": PL}).headers["location"]
    assert client.get(back[len(BASE):]).status_code == 303 and client.get("/tokens").status_code == 200
