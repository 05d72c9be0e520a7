"""wijkflow's errors as HTTP answers, in one place (as the CLI gives them exit codes in one place).

    WijkflowError (wijkflow/errors.py)   500 (anything unexpected keeps its own message out: see app.py)
    ├── InvalidInput                     400
    ├── StorageError                     503  the database cannot be used (a server problem, not the request)
    ├── GateNotMet                       409  the page lists every unmet criterion
    ├── NotFound                         404
    ├── NotAllowed                       403
    │   ├── LoginRequired                401 JSON on /api; a page: 303 to /aanmelden?next=PATH
    │   └── CsrfRefused                  403  a form without the right CSRF token: nothing was written
    ├── Conflict                         409
    ├── TooManyAttempts                  429  the sign-in rate limit
    └── AuditFailed                      500

/api/* answers JSON `{"error", "exit_code", "type", "details"}`, exactly what the CLI prints for
`--format json`; pages get an error page in the visitor's language (Dutch unless they chose `en`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ..errors import (
    AuditFailed,
    Conflict,
    GateNotMet,
    InvalidInput,
    NotAllowed,
    NotFound,
    StorageError,
    WijkflowError,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette


class LoginRequired(NotAllowed):
    """No valid session (pages) or bearer token (/api): sign in first."""

    def __init__(self, message: str = "Sign in first.") -> None:
        super().__init__(message)


class CsrfRefused(NotAllowed):
    """A form without this session's CSRF token (missing or wrong): refused before anything is written."""

    def __init__(self) -> None:
        super().__init__("The form was refused: it did not come from this site's own page (CSRF check). "
                         "Reload the page and try again.")


class TooManyAttempts(WijkflowError):
    """Too many sign-in attempts from one address or for one email in the window."""

    exit_code = 5

    def __init__(self, *, minutes: int) -> None:
        self.minutes = minutes
        super().__init__(f"Too many sign-in attempts; try again in {minutes} minutes.")


def status_of(exc: WijkflowError) -> int:
    for kind, status in ((LoginRequired, 401), (TooManyAttempts, 429), (CsrfRefused, 403),
                         (InvalidInput, 400), (StorageError, 503), (GateNotMet, 409), (NotFound, 404),
                         (NotAllowed, 403), (Conflict, 409), (AuditFailed, 500)):
        if isinstance(exc, kind):
            return status
    return 500


def is_api(request: Request) -> bool:
    return request.url.path == "/api" or request.url.path.startswith("/api/")


def local_path(target: str | None, default: str = "/") -> str:
    """`target` when it is a path on this site (for ?next=), else `default`: never an open redirect.
    Refused: absolute URLs, scheme-relative `//host`, backslashes (browsers read `/\\host` as `//host`),
    control characters."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(c) < 32 or ord(c) == 127 for c in target) or len(target) > 2000:
        return default
    return target


def json_error(exc: WijkflowError, status: int | None = None) -> JSONResponse:
    return JSONResponse({"error": exc.message, "exit_code": exc.exit_code, "type": type(exc).__name__,
                         "details": list(exc.details)}, status_code=status or status_of(exc),
                        headers={"WWW-Authenticate": "Bearer"} if isinstance(exc, LoginRequired) else None)


async def handle(request: Request, exc: Exception) -> Response:
    """The exception handler for every WijkflowError a route lets through."""
    assert isinstance(exc, WijkflowError)
    if is_api(request):
        return json_error(exc)
    if isinstance(exc, LoginRequired):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/aanmelden?next={quote(local_path(here), safe='/')}", status_code=303)
    from .app import page  # the page renderer lives with the app (it holds the Jinja environment)

    return page(request, "fout.html.j2", status=status_of(exc), error=exc, kind=type(exc).__name__)


def install(starlette: Starlette) -> None:
    starlette.add_exception_handler(WijkflowError, handle)
