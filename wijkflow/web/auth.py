"""Signing in and out, personal access tokens, and confirming a CLI login: the routes.

    GET  /aanmelden                   the choices: the identity provider (OIDC), a link by email
    GET  /aanmelden/oidc              start OIDC (state, nonce, PKCE in a signed cookie) -> the provider
    GET  /aanmelden/oidc/terug        the provider's answer -> a new session -> ?next
    POST /aanmelden/link              mail a one-time link (the same answer whether the address is known)
    GET  /aanmelden/link/{secret}     a page with one button; nothing is used up by opening it
    POST /aanmelden/link/gebruiken    the link's secret in the form body, with CSRF -> a new session
    POST /afmelden                    sign out
    GET  /tokens, POST /tokens, POST /tokens/{id}/intrekken       one's personal access tokens
    GET  /cli/koppelen, POST /cli/koppelen                        confirm `wijkflow login SERVER`

Why a sign-in link is exchanged by a POST: mail scanners and link previews open every link in a
message; if opening it signed in, they would use it up (or sign themselves in). The GET shows a button,
the POST (with the CSRF token of the browser that asked) uses the link, and its secret travels in the
form body, not the URL. The confirm page's URL still holds the secret until the button is pressed, so
the access log writes that path without it and every page sends `Referrer-Policy: no-referrer`.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import InvalidInput, NotAllowed, WijkflowError
from ..services import signin
from .app import page
from .errors import TooManyAttempts, local_path
from .identity import (
    acting,
    browser_nonce,
    checked_form,
    cookie_header,
    require_visitor,
    session_secret,
    set_session,
    sign,
    unsign,
)
from .oidc import FLOW_LOST, FLOW_SECONDS, NOT_CONFIGURED, PROVIDER_REFUSED, Flow, OidcRefused, Provider, new_flow

log = logging.getLogger(__name__)

FLOW_COOKIE = "wijkflow_oidc"
NEXT_COOKIE = "wijkflow_next"


def _app(request: Request) -> Any:
    return request.app.state.wijkflow


def _client(request: Request) -> str:
    return f"ip:{request.client.host if request.client else '?'}"


def _throttle(request: Request, *keys: str) -> None:
    limiter = request.app.state.limiter
    if not limiter.hit(_client(request), *keys):
        log.warning("sign-in rate limit reached for %s", _client(request))
        raise TooManyAttempts(minutes=limiter.minutes_left())


def _base_url(request: Request) -> str:
    settings = _app(request).settings
    return (settings.server_url or str(request.base_url)).rstrip("/")


def _refused(request: Request, message: str, status: int = 403, **params: Any) -> Response:
    return page(request, "aanmelden_geweigerd.html.j2", status=status, message=message, params=params)


def _signed_in(request: Request, secret: str, next_path: str) -> Response:
    """The new session's cookie, the next-cookie cleared, -> next (a path on this site only)."""
    set_session(request, secret)
    response = RedirectResponse(local_path(next_path), status_code=303)
    response.headers.append("set-cookie", cookie_header(NEXT_COOKIE, "", secure=_app(request).settings.cookie_secure,
                                                        max_age=0))
    return response


# --- the start page ---


async def sign_in_page(request: Request) -> Response:
    settings = _app(request).settings
    next_path = local_path(request.query_params.get("next"))
    return page(request, "aanmelden.html.j2", next=next_path,
                oidc=bool(settings.oidc_issuer and settings.oidc_client_id), links=settings.login_links)


# --- OpenID Connect ---


def _provider(request: Request) -> Provider:
    settings = _app(request).settings
    if not (settings.oidc_issuer and settings.oidc_client_id):
        raise OidcRefused(NOT_CONFIGURED)
    cache: dict[str, Provider] = request.app.state.oidc
    if "provider" not in cache:
        secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
        cache["provider"] = Provider(settings.oidc_issuer, settings.oidc_client_id, secret)
    return cache["provider"]


def _redirect_uri(request: Request) -> str:
    return f"{_base_url(request)}/aanmelden/oidc/terug"


async def oidc_start(request: Request) -> Response:
    try:
        provider = _provider(request)
        flow = new_flow(local_path(request.query_params.get("next")))
        target = await provider.authorize_url(flow, _redirect_uri(request))
    except OidcRefused as exc:
        return _refused(request, exc.message, status=503 if exc.message != NOT_CONFIGURED else 404)
    response = RedirectResponse(target, status_code=303)
    wf = _app(request)
    response.headers.append("set-cookie", cookie_header(
        FLOW_COOKIE, sign(request.app.state.session_key, flow.to_cookie(), "oidc"),
        secure=wf.settings.cookie_secure, max_age=FLOW_SECONDS))
    return response


async def oidc_return(request: Request) -> Response:
    wf = _app(request)
    flow = Flow.from_cookie(unsign(request.app.state.session_key, request.cookies.get(FLOW_COOKIE), "oidc"))
    params = request.query_params
    try:
        _throttle(request)
        provider = _provider(request)
        if flow is None or params.get("state") != flow.state or time.time() - flow.started > FLOW_SECONDS:
            raise OidcRefused(FLOW_LOST)
        if "error" in params or not params.get("code"):
            raise OidcRefused(PROVIDER_REFUSED)
        id_token = await provider.exchange(params["code"], flow, _redirect_uri(request))
        claims = await provider.verify(id_token, flow.nonce)
    except OidcRefused as exc:
        log.warning("OIDC sign-in refused: %s", exc.message)
        response = _refused(request, exc.message)
        response.headers.append("set-cookie", cookie_header(FLOW_COOKIE, "", secure=wf.settings.cookie_secure,
                                                            max_age=0))
        return response
    email = str(claims["email"]).strip().lower()
    try:
        _sid, secret = await run_in_threadpool(partial(signin.sign_in_verified_email, wf, email,
                                                       replaces=session_secret(request)))
    except NotAllowed as exc:
        return _refused(request, exc.message, email=email)
    response = _signed_in(request, secret, flow.next)
    response.headers.append("set-cookie", cookie_header(FLOW_COOKIE, "", secure=wf.settings.cookie_secure,
                                                        max_age=0))
    return response


# --- sign-in links ---



async def link_request(request: Request) -> Response:
    wf = _app(request)
    form = await checked_form(request)
    if not wf.settings.login_links:
        return _refused(request, signin.LINKS_OFF, status=404)
    if not wf.settings.server_url:
        return _refused(request, signin.LINKS_NEED_URL, status=503)
    email = str(form.get("email") or "").strip().lower()[:254]
    if not email:
        raise InvalidInput("An email address is needed.")
    _throttle(request, f"email:{email}")
    next_path = local_path(str(form.get("next") or "/"))
    nonce = browser_nonce(request)
    # Sent after the answer: the page comes back as fast for an unknown address as for a known one.
    task = BackgroundTask(_send_link, wf, email, nonce)
    response = page(request, "aanmelden_verstuurd.html.j2", email=email)
    response.background = task
    response.headers.append("set-cookie", cookie_header(
        NEXT_COOKIE, sign(request.app.state.session_key, next_path, "next"), secure=wf.settings.cookie_secure,
        max_age=signin.LINK_MINUTES * 60))
    return response


def _send_link(wf: Any, email: str, nonce: str) -> None:
    try:
        signin.send_login_link(wf, email, nonce)
    except WijkflowError as exc:  # a mail server that is down: logged, the page said nothing either way
        log.error("sign-in link not sent: %s", exc)


async def link_confirm(request: Request) -> Response:
    return page(request, "aanmelden_link.html.j2", secret=request.path_params["secret"])


async def link_use(request: Request) -> Response:
    wf = _app(request)
    form = await checked_form(request)
    _throttle(request)
    link = str(form.get("link") or "")
    try:
        _sid, secret = await run_in_threadpool(partial(signin.sign_in_with_link, wf, link, browser_nonce(request),
                                                       replaces=session_secret(request)))
    except NotAllowed as exc:
        log.warning("sign-in link refused: %s", exc.message)
        return _refused(request, exc.message)
    return _signed_in(request, secret, unsign(request.app.state.session_key, request.cookies.get(NEXT_COOKIE),
                                              "next") or "/")


# --- signing out ---


async def sign_out(request: Request) -> Response:
    secret = session_secret(request)
    if secret:  # signed out already (the session expired): nothing to end, no form to check
        await checked_form(request)
        await run_in_threadpool(signin.end_session, _app(request), secret)
    set_session(request, None)
    return RedirectResponse("/aanmelden", status_code=303)


# --- personal access tokens ---


async def tokens_page(request: Request) -> Response:
    who = require_visitor(request)
    tokens = await run_in_threadpool(signin.list_tokens, _app(request), who.email)
    return page(request, "tokens.html.j2", tokens=tokens, most=_app(request).settings.token_days)


async def token_create(request: Request) -> Response:
    who = require_visitor(request)
    form = await checked_form(request)
    days_text = str(form.get("days") or "").strip()
    try:
        days = int(days_text) if days_text else None
    except ValueError:
        raise InvalidInput(f"'{days_text[:20]}' is not a number of days.") from None
    with acting(request, who):
        made = await run_in_threadpool(signin.create_token, _app(request), who.email, str(form.get("name") or ""),
                                       days)
    return page(request, "token_nieuw.html.j2", made=made)


async def token_revoke(request: Request) -> Response:
    who = require_visitor(request)
    await checked_form(request)
    try:
        token_id = int(request.path_params["token_id"])
    except ValueError:
        raise InvalidInput("Not a token number.") from None
    with acting(request, who):
        await run_in_threadpool(signin.revoke_token, _app(request), who.email, token_id)
    return RedirectResponse("/tokens", status_code=303)


# --- confirming `wijkflow login SERVER` ---


async def cli_confirm_page(request: Request) -> Response:
    require_visitor(request)
    code = request.query_params.get("code", "")
    pending = await run_in_threadpool(signin.cli_login_pending, _app(request), code) if code else None
    return page(request, "cli_koppelen.html.j2", pending=pending)


async def cli_confirm(request: Request) -> Response:
    who = require_visitor(request)
    form = await checked_form(request)
    with acting(request, who):
        done = await run_in_threadpool(signin.cli_login_approve, _app(request), who.email,
                                       str(form.get("code") or ""))
    return page(request, "cli_gekoppeld.html.j2", done=done)


async def whoami(request: Request) -> Response:
    """/api/ik: who the bearer token belongs to (for `wijkflow login` and scripts to check a token)."""
    who = require_visitor(request)
    return JSONResponse({"email": who.email, "name": who.name, "role": who.role, "locale": who.locale,
                         "token_id": who.token_id})


routes: list[BaseRoute] = [
    Route("/aanmelden", sign_in_page, methods=["GET"]),
    Route("/aanmelden/oidc", oidc_start, methods=["GET"]),
    Route("/aanmelden/oidc/terug", oidc_return, methods=["GET"]),
    Route("/aanmelden/link", link_request, methods=["POST"]),
    Route("/aanmelden/link/gebruiken", link_use, methods=["POST"]),
    Route("/aanmelden/link/{secret}", link_confirm, methods=["GET"]),
    Route("/afmelden", sign_out, methods=["POST"]),
    Route("/tokens", tokens_page, methods=["GET"]),
    Route("/tokens", token_create, methods=["POST"]),
    Route("/tokens/{token_id}/intrekken", token_revoke, methods=["POST"]),
    Route("/cli/koppelen", cli_confirm_page, methods=["GET"]),
    Route("/cli/koppelen", cli_confirm, methods=["POST"]),
    Route("/api/ik", whoami, methods=["GET"]),
]
