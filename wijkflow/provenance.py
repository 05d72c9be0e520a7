"""Where the change being made comes from: recorded beside the person in every audit event.

The person in an event (`actor_id`) is who the change claims to be by. On a single-user install
that claim is `--as` / WIJKFLOW_USER, which anyone can type; BIO 12.4.1 asks the event log to
say who really acted, so every event also records its *origin*: for the local CLI and the
Python API the operating-system account and the host it ran on, for the server how the person
signed in and from where. `store.append_event` reads `current()` and stores it with the event;
the event's leaf commits to it (docs/audit-format.md, format 1 revision 2).

The server wraps each request that may write in `acting_through({...})`; only there is the
identity verified (`verified()`), which `identity = "server"` installations require for every
change a person makes (services.common.actor). Leaf module: imports nothing from wijkflow.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from functools import cache

# Where a change comes from. "cli": the local command or the Python API (claimed identity);
# "web" and "api": the server, after the person signed in (OIDC, a login link) or showed a token.
VERIFIED_VIA = frozenset({"web", "api"})
MAX_VALUE = 255  # a host name's limit; an origin is a few short facts, not free text
_KEY = re.compile(r"[a-z_]{1,32}\Z")

# Why a person's change is refused on an installation with identity = "server" (settings.identity): the
# one sentence services.common.actor (and, as a backstop, store.append_event) give, exit 5.
SERVER_IDENTITY = ("This installation takes identity from its server (identity = \"server\"): sign in with "
                   "`wijkflow login SERVER` and run the command with --server SERVER.")

_origin: ContextVar[dict[str, str] | None] = ContextVar("wijkflow_origin", default=None)


def os_user() -> str:
    """The operating-system account running this process; never fails.

    On POSIX the account of the effective uid, not getpass.getuser(): that reads LOGNAME / USER first,
    which anyone can set to another name as easily as --as. A uid without a passwd entry (a container)
    is recorded as "uid:N". Elsewhere (Windows) getpass.getuser().
    """
    geteuid = getattr(os, "geteuid", None)
    if geteuid is not None:
        try:
            import pwd

            return pwd.getpwuid(geteuid()).pw_name
        except (ImportError, KeyError):
            return f"uid:{geteuid()}"
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # OSError on 3.13+, ImportError without pwd
        return "unknown"


def host() -> str:
    # socket is imported here, not at the top: the CLI imports this module at start-up (describe()) and
    # most commands never ask for the host.
    import socket

    try:
        return socket.gethostname() or "unknown"
    except OSError:
        return "unknown"


@cache
def local() -> dict[str, str]:
    """The origin of a change made by this process itself (the CLI, a script on the Python API):
    looked up once, account and host do not change while it runs."""
    return {"via": "cli", "os_user": os_user(), "host": host()}


def current() -> dict[str, str]:
    """The origin of the change being made now (a copy: changing it changes nothing)."""
    return dict(_origin.get() or local())


def verified() -> bool:
    """True inside acting_through() for the server (via web or api): the person signed in."""
    found = _origin.get()
    return found is not None and found.get("via") in VERIFIED_VIA


def allows_claims(identity: str | None) -> bool:
    """May a change be made in a person's name here? `identity` is the installation's setting (the database
    connection carries it: db.Database.write): "server" wants the person signed in to the server."""
    return identity != "server" or verified()


@contextmanager
def acting_through(origin: Mapping[str, str | None]) -> Iterator[dict[str, str]]:
    """Record `origin` for every event written inside the block (in this thread or task only).

    The server: {"via": "web"|"api", "method": "oidc"|"link"|"token"|"device", "host": server host,
    "client": peer address}. Values are short strings; None values are left out. Tests may pin a
    local origin ({"via": "cli", "os_user": ..., "host": ...}) to make recorded events independent
    of the machine; only via web/api counts as verified.
    """
    clean = _checked(origin)
    token = _origin.set(clean)
    try:
        yield dict(clean)
    finally:
        _origin.reset(token)


def serving(via: str, method: str, client: str | None) -> AbstractContextManager[dict[str, str]]:
    """acting_through() for the server: `via` "web" or "api", how the person signed in, the peer's address;
    the host is this server's."""
    if via not in VERIFIED_VIA:
        raise ValueError(f"the server acts via web or api, not {via!r}")
    return acting_through({"via": via, "method": method, "host": host(), "client": client})


def _checked(origin: Mapping[str, str | None]) -> dict[str, str]:
    clean = {str(k): v for k, v in origin.items() if v is not None}
    if not isinstance(clean.get("via"), str) or not clean["via"]:
        raise ValueError("an origin says where the change comes from: 'via' (cli, web or api) is required")
    for key, value in clean.items():
        if not isinstance(value, str) or not _KEY.match(key) or len(value) > MAX_VALUE:
            raise ValueError(f"origin {key!r}: a short string is expected, not {value!r:.60}")
    return clean


def describe(origin: Mapping[str, str] | None) -> str:
    """A short text for tables: 'via cli (jan@werkplek-12)', 'via web (oidc from 192.0.2.7)'; '' for none."""
    if not origin:
        return ""
    via = origin.get("via", "?")
    if "os_user" in origin or via == "cli":
        where = f"{origin.get('os_user', '?')}@{origin.get('host', '?')}"
    else:
        where = " from ".join(x for x in (origin.get("method"), origin.get("client")) if x)
    return f"via {via} ({where})" if where else f"via {via}"
