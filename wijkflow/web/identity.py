"""Who is asking: the visitor behind a request, from the session cookie (pages) or a bearer token (/api).

Routes use four things from here:

    visitor(request)          -> Visitor | None
    require_visitor(request)  -> Visitor, or LoginRequired (pages: 303 to /aanmelden?next=; /api: 401 JSON)
    csrf_input(request)       -> the hidden <input> every form carries
    await checked_form(request) -> the form, or CsrfRefused (403) before anything is written
    with acting(request, visitor): ...   around every service call that writes (provenance, wired at merge)

Cookies (all HttpOnly, SameSite=Lax, Path=/, Secure unless settings.cookie_secure is false):
`wijkflow_session` holds the session's secret, signed with HMAC-SHA256 under the server's session key
(a cookie that was not made here is dropped before the database is asked); `wijkflow_browser` is a
random value that marks this browser: the CSRF token of a visitor not signed in is derived from it,
and a sign-in link is bound to its hash. A signed-in visitor's CSRF token is derived from the session
secret, so it changes at every sign-in and needs no storage.

The visitor is looked up once per request, in IdentityMiddleware, on a worker thread (the services
are synchronous); `visitor()` only reads what the middleware found.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import provenance
from ..errors import NotAllowed
from .errors import CsrfRefused, LoginRequired, TooManyAttempts

log = logging.getLogger(__name__)

SESSION_COOKIE = "wijkflow_session"
BROWSER_COOKIE = "wijkflow_browser"
CSRF_FIELD = "csrf"
MAX_FORM_BYTES = 1_000_000


@dataclass(frozen=True)
class Visitor:
    person_id: int
    email: str
    name: str
    role: str | None  # the global role: admin | auditor | None
    locale: str  # nl | en
    method: str  # oidc | link | token
    session_id: int | None
    token_id: int | None
    csrf: str  # "" for token callers (a bearer token is not sent by a browser on its own: no CSRF)


# --- signing ---


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def sign(key: bytes, value: str, purpose: str) -> str:
    """`value.signature`: HMAC-SHA256 over the purpose and the value, so a value signed for one cookie is not
    valid in another."""
    mac = hmac.new(key, f"{purpose}|{value}".encode(), hashlib.sha256).digest()
    return f"{value}.{_b64(mac)}"


def unsign(key: bytes, signed: str | None, purpose: str) -> str | None:
    """The value of a signed cookie, or None when it was not signed here (or is malformed)."""
    if not signed or "." not in signed or len(signed) > 4096:
        return None
    value = signed.rsplit(".", 1)[0]
    return value if hmac.compare_digest(sign(key, value, purpose), signed) else None


def csrf_token(key: bytes, basis: str) -> str:
    return _b64(hmac.new(key, f"csrf|{basis}".encode(), hashlib.sha256).digest())


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    """One Set-Cookie value with wijkflow's flags; max_age 0 deletes the cookie."""
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


# --- what routes use ---


def visitor(request: HTTPConnection) -> Visitor | None:
    """The signed-in visitor of this request, or None."""
    found: Visitor | None = request.scope.get("state", {}).get("visitor")
    return found


def require_visitor(request: HTTPConnection) -> Visitor:
    who = visitor(request)
    if who is None:
        if request.scope.get("state", {}).get("throttled"):
            raise TooManyAttempts(minutes=request.scope["state"]["throttled"])
        refused = request.scope.get("state", {}).get("token_refused")
        raise LoginRequired(refused or "Sign in first.")
    return who


def _csrf_expected(request: HTTPConnection) -> str:
    state = request.scope["state"]
    who: Visitor | None = state.get("visitor")
    if who is not None and who.csrf:
        return who.csrf
    return csrf_token(request.app.state.session_key, "browser|" + state["browser"])


def csrf_input(request: HTTPConnection) -> Markup:
    """The hidden field a form must carry (checked by checked_form)."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(_csrf_expected(request)))


async def checked_form(request: Request) -> FormData:
    """The posted form, after its CSRF token is checked: CsrfRefused (403) when missing or wrong, so a route
    never reaches its service. Token callers (Authorization: Bearer) need none: a browser never adds one."""
    form = await request.form(max_files=20, max_fields=200)
    who = visitor(request)
    if who is not None and who.method == "token":
        return form
    given = form.get(CSRF_FIELD)
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), _csrf_expected(request).encode()):
        log.warning("form refused: CSRF token %s on %s", "missing" if given is None else "wrong", request.url.path)
        raise CsrfRefused()
    return form


def acting(request: HTTPConnection, who: Visitor | None) -> contextlib.AbstractContextManager[Any]:
    """Where the change inside comes from, recorded on every event written in the block (BIO 12.4.1): via web
    (a page) or api (a token: the CLI, a script), how the person signed in, this server's host and the peer's
    address. Inside it an identity = "server" installation accepts changes in the person's name.

    It wraps `await run_in_threadpool(...)`: anyio copies the context into the worker thread."""
    if who is None:
        return contextlib.nullcontext()
    via = "api" if who.method == "token" or request.url.path.startswith("/api/") else "web"
    return provenance.serving(via, who.method, request.client.host if request.client else None)


def browser_nonce(request: HTTPConnection) -> str:
    """This browser's random mark (the login-link binding)."""
    return str(request.scope["state"]["browser"])


def session_secret(request: HTTPConnection) -> str | None:
    secret: str | None = request.scope["state"].get("session_secret")
    return secret


def set_session(request: HTTPConnection, secret: str | None) -> None:
    """Have the response set (or, with None, delete) the session cookie."""
    request.scope["state"]["set_session"] = secret if secret is not None else ""


# --- the middleware ---


def _visitor_of(signed: Any, method: str, csrf: str) -> Visitor:
    p = signed.person
    return Visitor(person_id=p.id, email=p.email, name=p.name or p.email, role=p.role, locale=p.locale or "nl",
                   method=method, session_id=signed.session.id if signed.session is not None else None,
                   token_id=signed.token.id if signed.token is not None else None, csrf=csrf)


STATIC_PATH = "/static/"


class IdentityMiddleware:
    """Finds the visitor (session cookie on pages, bearer token on /api) and sets the cookies routes ask for."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(STATIC_PATH):
            # The stylesheet and icon are the same for everyone: no session lookup for them.
            scope.setdefault("state", {})["visitor"] = None
            await self.app(scope, receive, send)
            return
        from ..services import signin

        conn = HTTPConnection(scope)
        server = scope["app"]
        key: bytes = server.state.session_key
        wf = server.state.wijkflow
        state = scope.setdefault("state", {})
        path: str = scope["path"]
        api = path == "/api" or path.startswith("/api/")
        browser = unsign(key, conn.cookies.get(BROWSER_COOKIE), "browser")
        new_browser = browser is None and not api
        state["browser"] = browser or secrets.token_urlsafe(24)
        state["visitor"] = None
        if api:
            auth = conn.headers.get("authorization", "")
            limiter = server.state.limiter
            address = f"ip:{conn.client.host if conn.client else '?'}"
            if auth[:7].lower() == "bearer " and limiter.blocked(address):
                state["throttled"] = limiter.minutes_left()  # guessing tokens: wrong ones count as attempts
            elif auth[:7].lower() == "bearer ":
                try:
                    found = await run_in_threadpool(signin.token_sign_in, wf, auth[7:].strip())
                    state["visitor"] = _visitor_of(found, "token", "")
                except NotAllowed as exc:
                    state["token_refused"] = exc.message
                    limiter.hit(address)
        else:
            secret = unsign(key, conn.cookies.get(SESSION_COOKIE), "session")
            if secret is not None:
                session = await run_in_threadpool(signin.session_person, wf, secret)
                if session is not None:
                    state["session_secret"] = secret
                    state["visitor"] = _visitor_of(session, session.session.method,
                                                   csrf_token(key, "session|" + secret))
        secure = wf.settings.cookie_secure

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if new_browser:
                    headers.append("set-cookie", cookie_header(BROWSER_COOKIE, sign(key, state["browser"], "browser"),
                                                               secure=secure))
                if "set_session" in state:
                    value = state["set_session"]
                    headers.append("set-cookie", cookie_header(
                        SESSION_COOKIE, sign(key, value, "session") if value else "", secure=secure,
                        max_age=None if value else 0))
            await send(message)

        await self.app(scope, receive, send_with_cookies)
