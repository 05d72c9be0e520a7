"""What holds however the server is asked: cookies, CSRF, headers, 401/303, rate limits, secrets at rest."""

from __future__ import annotations

import hashlib
import re

import pytest
from conftest import ADMIN, PL
from starlette.testclient import TestClient
from webkit import BASE, bearer, build, csrf_of, login_as, set_cookie

from wijkflow import store
from wijkflow.services import signin
from wijkflow.web.identity import BROWSER_COOKIE, SESSION_COOKIE, sign
from wijkflow.web.security import RateLimiter

# The web layer over the services, the same on both engines: these run on SQLite only (the services,
# the sign-in SQL and the pages' forms are run on PostgreSQL too, in their own tests).
pytestmark = pytest.mark.sqlite_only


def cookie_flags(header: str) -> set[str]:
    return {part.strip().split("=")[0] for part in header.split(";")[1:]}


def test_cookies_are_signed_httponly_samesite_lax_and_secure(client, app, people):
    r = client.get("/aanmelden")
    [browser] = r.headers.get_list("set-cookie")
    assert browser.startswith(f"{BROWSER_COOKIE}=")
    assert cookie_flags(browser) >= {"Path", "HttpOnly", "SameSite", "Secure"} and "SameSite=Lax" in browser


def mailed_secret(outbox) -> str:
    eml = next(outbox.glob("*.eml")).read_bytes().decode()
    return re.search(r"/aanmelden/link/([A-Za-z0-9_-]{43})", eml.replace("=\r\n", "").replace("=\n", ""))[1]


def test_the_session_cookie_set_at_sign_in_has_every_flag(client, app, people, tmp_path):
    app.settings.server_url = BASE
    client.post("/aanmelden/link", data={"email": PL, "csrf": csrf_of(client)})
    secret = mailed_secret(tmp_path / "outbox")
    r = client.post("/aanmelden/link/gebruiken", data={"link": secret, "csrf": csrf_of(client)})
    session = next(c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert {"Path", "HttpOnly", "SameSite", "Secure"} <= cookie_flags(session) and "SameSite=Lax" in session


def test_without_cookie_secure_the_cookies_leave_secure_off_for_plain_http(app, people):
    app.settings.cookie_secure = False
    with TestClient(build(app), base_url="http://testserver") as plain:
        [browser] = plain.get("/aanmelden").headers.get_list("set-cookie")
    assert "Secure" not in cookie_flags(browser) and "HttpOnly" in cookie_flags(browser)


def test_a_session_cookie_not_signed_here_signs_nobody_in(client, app, people):
    secret = login_as(client, app, PL)
    set_cookie(client, SESSION_COOKIE, sign(b"another key" * 3, secret, "session"))
    assert client.get("/tokens").status_code == 303
    set_cookie(client, SESSION_COOKIE, secret)  # the bare secret, unsigned
    assert client.get("/tokens").status_code == 303


def test_every_response_carries_the_security_headers(client, app, people):
    for r in (client.get("/aanmelden"), client.get("/api/ik"), client.get("/tokens")):
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer" and r.headers["cache-control"] == "no-store"
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        assert "unsafe-inline" not in r.headers["content-security-policy"]
        assert r.headers["strict-transport-security"] == "max-age=31536000"  # the test client speaks https


def test_pages_send_strangers_to_sign_in_and_the_api_answers_401_json(client, app, people):
    r = client.get("/tokens?x=1")
    assert (r.status_code, r.headers["location"]) == (303, "/aanmelden?next=/tokens%3Fx%3D1")
    r = client.get("/api/ik")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {"error": "Sign in first.", "exit_code": 5, "type": "LoginRequired", "details": []}


def test_a_browser_session_does_not_open_the_api(client, app, people):
    """The API takes bearer tokens only: a cookie a browser sends by itself cannot drive it (no CSRF there)."""
    login_as(client, app, PL)
    assert client.get("/api/ik").status_code == 401


FORMS = [("/tokens", {"name": "laptop"}), ("/tokens/1/intrekken", {}), ("/afmelden", {}),
         ("/cli/koppelen", {"code": "ABCD-EFGH"}), ("/aanmelden/link", {"email": PL}),
         ("/aanmelden/link/gebruiken", {"link": "x" * 43})]


@pytest.mark.parametrize(("path", "data"), FORMS, ids=[p for p, _ in FORMS])
@pytest.mark.parametrize("csrf", [None, "wrong", "other session"])
def test_a_form_without_the_right_csrf_token_is_refused_and_nothing_is_written(client, app, people, db_state, path,
                                                                               data, csrf):
    app.settings.server_url = BASE
    signin.create_token(app, PL, "existing")
    signin.cli_login_start(app, "laptop")
    other = TestClient(build(app), base_url=BASE)
    login_as(other, app, ADMIN)
    login_as(client, app, PL)
    before = db_state()
    form = dict(data)
    if csrf == "wrong":
        form["csrf"] = "A" * 43
    elif csrf == "other session":
        form["csrf"] = csrf_of(other)  # a real token, of another session
    r = client.post(path, data=form)
    assert r.status_code == 403 and "CSRF" in r.text
    assert db_state() == before


def test_sign_in_attempts_are_limited_per_address_and_per_email(app, people):
    app.settings.server_url = BASE
    web = build(app, limiter=RateLimiter(per_email=3, per_address=3, window=600))
    with TestClient(web, base_url=BASE, client=("10.0.0.1", 5000)) as one:
        for _ in range(3):
            assert one.post("/aanmelden/link", data={"email": f"x{_}@e.example", "csrf": csrf_of(one)}
                            ).status_code == 200
        r = one.post("/aanmelden/link", data={"email": PL, "csrf": csrf_of(one)})
        assert r.status_code == 429 and "Te veel aanmeldpogingen" in r.text
        # one budget per address for every way in: the OIDC return counts too
        assert one.get("/aanmelden/oidc/terug", params={"code": "x", "state": "y"}).status_code == 429
    with TestClient(web, base_url=BASE, client=("10.0.0.2", 5000)) as two, \
            TestClient(web, base_url=BASE, client=("10.0.0.3", 5000)) as three:
        for c in (two, two, three):
            assert c.post("/aanmelden/link", data={"email": ADMIN, "csrf": csrf_of(c)}).status_code == 200
        r = three.post("/aanmelden/link", data={"email": ADMIN, "csrf": csrf_of(three)})
        assert r.status_code == 429  # the same email from yet another address


def test_guessing_bearer_tokens_is_limited_too(app, people):
    web = build(app, limiter=RateLimiter(per_address=3, window=600))
    good = bearer(app, PL)
    with TestClient(web, base_url=BASE) as c:
        for _ in range(3):
            assert c.get("/api/ik", headers={"Authorization": "Bearer wf_guess" + "x" * 40}).status_code == 401
        r = c.get("/api/ik", headers=good)
        assert r.status_code == 429 and r.json()["type"] == "TooManyAttempts"


def test_the_rate_limit_window_slides():
    now = [0.0]
    limiter = RateLimiter(per_email=2, per_address=3, window=60, clock=lambda: now[0])
    assert limiter.hit("email:a") and limiter.hit("email:a") and not limiter.hit("email:a")
    assert limiter.hit("ip:a") and limiter.hit("ip:a") and limiter.hit("ip:a") and not limiter.hit("ip:a")
    now[0] = 61
    assert limiter.hit("email:a") and limiter.hit("ip:a")


@pytest.mark.sqlite_only
def test_only_hashes_of_secrets_are_in_the_database_file(client, app, people, db_path, tmp_path):
    app.settings.server_url = BASE
    token = signin.create_token(app, PL, "laptop")["token"]
    session = login_as(client, app, PL)
    client.cookies.delete(SESSION_COOKIE)
    client.post("/aanmelden/link", data={"email": PL, "csrf": csrf_of(client)})
    link = mailed_secret(tmp_path / "outbox")
    device = signin.cli_login_start(app, "laptop")["device_code"]
    store.checkpoint(app.db)  # the write-ahead log into the file, so the file's bytes are everything
    data = db_path.read_bytes()
    for secret in (token, session, link, device):
        assert secret.encode() not in data
        assert hashlib.sha256(secret.encode()).hexdigest().encode() in data
    assert b"wf_" not in data.replace(token[:10].encode(), b"")  # only the shown prefix of the token
