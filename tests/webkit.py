"""What web tests share: the Starlette app over a test App, signing in for real, and a served app.

    from webkit import build, client, login_as, csrf_of, served  # noqa: F401 (fixtures by import)

    def test_x(client, app, people):
        login_as(client, app, PL)                    # a real session (services.signin.start_session)
        r = client.post("/tokens", data={"name": "laptop", "csrf": csrf_of(client)})

    def test_y(served, people):                      # uvicorn on 127.0.0.1:<free port>, in a thread
        httpx.get(served + "/aanmelden")             # `served` is the base URL (a str), .app / .web attached

Cookies are signed with TEST_KEY (no key file). The TestClient talks https://testserver so that cookies
marked Secure are sent back, as a browser does on https; the served app sets cookie_secure off, since it
is plain http on 127.0.0.1 (a browser would not send a Secure cookie over http).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.testclient import TestClient

from wijkflow import store
from wijkflow.app import App
from wijkflow.services import signin
from wijkflow.web.app import create_app
from wijkflow.web.identity import BROWSER_COOKIE, SESSION_COOKIE, csrf_token, sign, unsign
from wijkflow.web.security import RateLimiter

TEST_KEY = bytes(range(32))
BASE = "https://testserver"


def build(app: App, *, limiter: RateLimiter | None = None) -> Starlette:
    """The web app over the test's App, cookies signed with TEST_KEY."""
    return create_app(app, key=TEST_KEY, limiter=limiter)


@pytest.fixture
def web(app: App) -> Starlette:
    return build(app)


@pytest.fixture
def client(web: Starlette) -> Iterator[TestClient]:
    """A TestClient on the web app; redirects are not followed (tests look at them)."""
    with TestClient(web, base_url=BASE, follow_redirects=False) as c:
        yield c


def session_cookie(app: App, email: str, *, key: bytes = TEST_KEY, method: str = "link") -> tuple[str, str]:
    """A real session for `email` (start_session), as the cookie (name, value) a browser would hold."""
    with app.db.read() as conn:
        person = store.person_by_email(conn, email)
    assert person is not None, f"{email} is not a person in this database"
    _sid, secret = signin.start_session(app, person.id, method)
    return SESSION_COOKIE, sign(key, secret, "session")


def set_cookie(client: TestClient, name: str, value: str) -> None:
    """Put a cookie in the client's jar as the server's Set-Cookie would (replacing one of that name): the jar
    files cookies of a host without dots, like testserver, under HOST.local."""
    client.cookies.delete(name)
    client.cookies.set(name, value, domain="testserver.local", path="/")


def login_as(client: TestClient, app: App, email: str, *, method: str = "link") -> str:
    """Sign `email` in on this client with a real session; the session's secret (for tests that need it)."""
    key: bytes = client.app.state.session_key  # type: ignore[attr-defined]
    name, value = session_cookie(app, email, key=key, method=method)
    set_cookie(client, name, value)
    secret = unsign(key, value, "session")
    assert secret is not None
    return secret


def csrf_of(client: TestClient) -> str:
    """The CSRF token a form on a page would carry for this client (signed in or not)."""
    key: bytes = client.app.state.session_key  # type: ignore[attr-defined]
    secret = unsign(key, client.cookies.get(SESSION_COOKIE), "session")
    if secret is not None:
        return csrf_token(key, "session|" + secret)
    browser = unsign(key, client.cookies.get(BROWSER_COOKIE), "browser")
    if browser is None:
        client.get("/aanmelden")  # the server gives every browser its mark on the first page
        browser = unsign(key, client.cookies.get(BROWSER_COOKIE), "browser")
    assert browser is not None
    return csrf_token(key, "browser|" + browser)


def bearer(app: App, email: str, name: str = "test") -> dict[str, str]:
    """An Authorization header with a fresh personal access token of `email`."""
    return {"Authorization": f"Bearer {signin.create_token(app, email, name)['token']}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served(str):
    """The base URL of a served app (http://127.0.0.1:PORT), with the Starlette app and the App attached."""

    web: Starlette
    app: App
    server: uvicorn.Server


def serve_plain(asgi: Any, *, port: int | None = None) -> Served:
    """Run an ASGI app under uvicorn on 127.0.0.1 in a daemon thread; stop it with stop_served()."""
    port = port or free_port()
    config = uvicorn.Config(asgi, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    url = Served(f"http://127.0.0.1:{port}")
    url.server = server
    url.thread = thread  # type: ignore[attr-defined]
    return url


def serve_in_thread(web: Starlette, app: App, *, port: int | None = None) -> Served:
    """The web app under uvicorn on 127.0.0.1 (see serve_plain), with .web and .app attached."""
    url = serve_plain(web, port=port)
    url.web, url.app = web, app
    return url


def stop_served(url: Served) -> None:
    url.server.should_exit = True
    url.thread.join(timeout=10)  # type: ignore[attr-defined]


@pytest.fixture
def served(app: App) -> Iterator[Served]:
    """The web app over the test's App, served by uvicorn on 127.0.0.1:<free port> (cookies not Secure: plain
    http). Yields the base URL."""
    app.settings.cookie_secure = False
    url = serve_in_thread(build(app), app)
    try:
        yield url
    finally:
        stop_served(url)
