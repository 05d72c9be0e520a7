"""What every response gets (security headers), what the access log may say, and the sign-in rate limit.

The access log is wijkflow's own (uvicorn's is switched off in `wijkflow serve`): it never writes a query
string (an OIDC `code`, a `next`), never a header, and writes the path of a sign-in link (/aanmelden/link/
SECRET) without its secret. Tokens travel in the Authorization header only, which is never logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("wijkflow.web.access")

HEADERS = {
    # No script, style or frame from anywhere but this site; no inline script (the pages need none).
    "content-security-policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
# Paths whose last part is a secret: logged as /aanmelden/link/…
SECRET_PATHS = ("/aanmelden/link/",)


def loggable_path(path: str) -> str:
    for prefix in SECRET_PATHS:
        if path.startswith(prefix) and len(path) > len(prefix):
            return prefix + "…"
    return path


class SecurityHeaders:
    """Adds HEADERS to every HTTP response (and `Cache-Control: no-store` to every one that is not a static
    file: pages carry personal data and CSRF tokens); logs one access line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if not path.startswith("/static/") and "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
                if scope.get("scheme") == "https":  # (behind a proxy: its X-Forwarded-Proto, when believed)
                    headers["strict-transport-security"] = "max-age=31536000"
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            client = scope.get("client")
            access_log.info("%s %s %s %d %.1fms", client[0] if client else "-", scope["method"], loggable_path(path),
                            status, (time.perf_counter() - started) * 1000)


class RateLimiter:
    """At most `per_email` attempts per email address and `per_address` per client address in a sliding window
    of `window` seconds, in memory.

    The address allows more than the email: a municipality's staff reach the server from one office address
    (NAT, a proxy), while one person's email is tried by one person. Keys are `ip:ADDRESS` and `email:ADDRESS`;
    a key's old attempts are dropped as it is used. Per process: with several server processes behind one
    proxy each counts on its own (README says so).
    """

    def __init__(self, per_email: int = 10, per_address: int = 100, window: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_email = per_email
        self.per_address = per_address
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _limit(self, key: str) -> int:
        return self.per_address if key.startswith("ip:") else self.per_email

    def _recent(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def hit(self, *keys: str) -> bool:
        """Count one attempt on every key; False when any of them is over the limit (then nothing is counted)."""
        now = self.clock()
        with self._lock:
            if len(self._hits) > 100_000:  # a flood of distinct keys must not grow memory without end
                self._hits.clear()
            recents = [self._recent(k, now) for k in keys]
            if any(len(r) >= self._limit(k) for k, r in zip(keys, recents, strict=True)):
                return False
            for r in recents:
                r.append(now)
            return True

    def blocked(self, *keys: str) -> bool:
        now = self.clock()
        with self._lock:
            return any(len(self._recent(k, now)) >= self._limit(k) for k in keys)

    def minutes_left(self) -> int:
        return max(1, round(self.window / 60))
