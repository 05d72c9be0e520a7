"""The web application: `create_app(App)` builds the Starlette app `wijkflow serve` runs under uvicorn.

Thin, like the CLI: a route parses the request, calls one service (the same the CLI calls), renders.
Routes come from web/auth.py (signing in, tokens), web/pages.py (the pages) and web/cli_bridge.py (the
CLI over HTTP), each a module with `routes`. Around them: security headers and the access log
(security.py), the visitor (identity.py), and wijkflow's errors as HTTP answers (errors.py).

`page(request, template, **context)` renders a template of web/templates with the visitor, the CSRF
field and `t()` in the visitor's language (Dutch unless they chose English), through web/render.py.
"""

from __future__ import annotations

import importlib
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from platformdirs import user_data_dir
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute

from ..app import App
from ..config import APP_NAME
from ..errors import StorageError, shorten
from ..i18n import normal_locale
from . import errors
from .identity import IdentityMiddleware, visitor
from .security import RateLimiter, SecurityHeaders

TEMPLATES = Path(__file__).parent / "templates"
ROUTE_MODULES = ("auth", "pages", "cli_bridge")


def session_key_path(app: App) -> Path:
    chosen = app.settings.session_key_file
    return Path(chosen) if chosen else Path(user_data_dir(APP_NAME, appauthor=False)) / "session-key"


def session_key(app: App, *, create: bool = True) -> bytes:
    """The key that signs cookies: read from settings.session_key_file (default: session-key in the user data
    directory), made on first use (32 random bytes, hex, mode 0600) like the audit signing key."""
    path = session_key_path(app)
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if not create:
            raise StorageError(f"There is no session key at {shorten(str(path))}; `wijkflow serve` makes one."
                               ) from None
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return session_key(app, create=False)
        except OSError as exc:
            raise StorageError(f"Cannot make the session key at {shorten(str(path))}: {exc.strerror}.") from None
        text = secrets.token_hex(32)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text + "\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"The session key {shorten(str(path))} cannot be read: {exc}.") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 32:
        raise StorageError(f"{shorten(str(path))} is not a session key (64 hex digits).")
    return key


def language(request: HTTPConnection) -> str:
    who = visitor(request)
    return normal_locale(who.locale if who else None)


def page(request: HTTPConnection, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A template of web/templates as a page, through the pages' one renderer (web/render.py): with `visitor`,
    `csrf_input`, `lang` and `t(text, **params)` in the visitor's language (the catalogue's Dutch, or English)."""
    from .render import render  # the pages' module; imported late, since it imports this package's identity

    return render(request, template, status=status, **context)  # type: ignore[arg-type]


def _routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for name in ROUTE_MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            # Until the pages and the CLI bridge land (issue 18 is built in parallel); at merge all exist.
            if exc.name != f"{__package__}.{name}":
                raise
            continue
        routes.extend(module.routes)
    return routes


def create_app(app: App, *, key: bytes | None = None, limiter: RateLimiter | None = None) -> Starlette:
    """The ASGI app over `app` (its database, settings, clock). `key` signs cookies (default: the session key
    file, made if missing); `limiter` counts sign-in attempts (default: per 10 minutes, 10 per email and 100 per
    client address)."""
    server = Starlette(routes=_routes(), middleware=[Middleware(SecurityHeaders), Middleware(IdentityMiddleware)],
                       lifespan=_few_worker_threads)
    server.state.wijkflow = app
    server.state.session_key = key if key is not None else session_key(app)
    server.state.limiter = limiter or RateLimiter()
    server.state.oidc = {}  # the provider's discovery document and keys, fetched once (web/auth.py)
    errors.install(server)
    return server


# Page and service work runs in worker threads (the services are synchronous). One Python process gets slower
# with more threads doing CPU work at once (the GIL): benchmarks/web_load.py served the aanpak page at 54/s with
# anyio's default 40 threads against 99/s with 2 and 118/s with 1, and 20 concurrent approvals' p99 fell from
# 1.15 s to 0.18 s with 2. A few, not one, so a slow request (a large CSV export) does not hold everyone up.
WORKER_THREADS = 4


@asynccontextmanager
async def _few_worker_threads(_server: Starlette) -> AsyncIterator[None]:
    anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
    yield


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serving_plan(app: App, *, host: str, port: int, insecure_cookies: bool = False) -> dict[str, Any]:
    """What `wijkflow serve` will do, decided once from the settings and the flags (and applied to `app`):
    the address, whether cookies are Secure, where links point, and what to tell the person starting it.

    Trying it out (the default: 127.0.0.1, no server_url): plain http on this computer, so cookies without
    Secure (a browser would not send them back otherwise) and links to http://127.0.0.1:PORT. Behind a
    reverse proxy with https, server_url says so and cookies stay Secure. An explicit cookie_secure setting
    is followed as given."""
    settings = app.settings
    local = host in LOOPBACK
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{port}"
    notes: list[str] = []
    public = settings.server_url or ""
    explicit = "cookie_secure" in settings.sources
    if insecure_cookies:
        settings.cookie_secure = False
        notes.append("Cookies without Secure (--insecure-cookies): use this only for plain http on a trusted network.")
    elif not explicit and local and not public.startswith("https://"):
        settings.cookie_secure = False
        notes.append(f"Cookies without Secure, because this is plain http on this computer only ({url}); behind "
                     "an https reverse proxy set server_url (WIJKFLOW_SERVER_URL=https://...) and they are Secure.")
    elif settings.cookie_secure and not public.startswith("https://"):
        notes.append("Cookies are Secure, so browsers send them back over https only: serve behind an https reverse "
                     "proxy and set server_url (WIJKFLOW_SERVER_URL=https://...), or for plain http on a trusted "
                     "network set WIJKFLOW_COOKIE_SECURE=false.")
    if not public and local:
        settings.server_url = url
    elif not public:
        notes.append("Set server_url (WIJKFLOW_SERVER_URL) to the address people open: sign-in links are refused "
                     "without it, so that a link can never point at another host.")
    ways = []
    if settings.oidc_issuer and settings.oidc_client_id:
        ways.append(f"through the identity provider {settings.oidc_issuer} (redirect URI "
                    f"{(settings.server_url or url).rstrip('/')}/aanmelden/oidc/terug)")
    if settings.login_links:
        where = (f"by SMTP via {settings.smtp_host}" if settings.smtp_host
                 else f"as .eml files into {settings.outbox_dir} (no smtp_host set)")
        ways.append(f"with a one-time link by email, sent {where}")
    return {"url": url, "public_url": settings.server_url or url, "cookie_secure": settings.cookie_secure,
            "notes": notes, "sign_in": ways, "key_file": str(session_key_path(app))}
