"""Signing in to the server (issue 18): sessions, personal access tokens, login links, CLI logins.

Every secret is made here (`secrets`, 256 bits), handed out once and stored as its SHA-256 only:
a copy of the database signs nobody in. Each function is one transaction. Who a secret belongs to
is decided by the database, never by the caller; a person who was erased (`people forget`) has no
working session, token or link from that moment, because every lookup checks the person.

Security logging (sign-ins, refusals) goes through `logging`, without secrets; only changes a
person would look for later (a token made or revoked) are audit events.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from html import escape
from typing import Any, NamedTuple

from .. import store
from ..app import App
from ..errors import Conflict, InvalidInput, NotAllowed, NotFound
from ..i18n import N_, t
from ..store import signin as sql
from .common import claims_allowed, clean_email, clean_name

log = logging.getLogger(__name__)

TOKEN_PREFIX = "wf_"
SHOWN_PREFIX = 10  # "wf_" and 7 characters: enough to tell one's tokens apart, far too few to guess one
LINK_MINUTES = 15
CLI_LOGIN_MINUTES = 10
TOKEN_TOUCH_SECONDS = 60  # last_used_at is written at most this often per token (not a write per request)
# User codes people type: no 0/O, 1/I/L, so a code read aloud or off a screen is typed right.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


LINKS_OFF = N_("Sign-in links by email are switched off here (setting login_links).")
LINKS_NEED_URL = N_("Sign-in links need the setting server_url (the address people open), so that a link never "
                    "points at another host.")

# Why a sign-in link is refused (marked for the catalogue: the page shows them in the visitor's language).
LINK_INVALID = N_("This sign-in link is not valid; ask for a new one.")
LINK_USED = N_("This sign-in link was used already; a link works once. Ask for a new one.")
LINK_EXPIRED = N_("This sign-in link has expired (a link works 15 minutes); ask for a new one.")
LINK_OTHER_BROWSER = N_("Open the sign-in link in the same browser in which you asked for it.")
UNKNOWN_PERSON = N_("You signed in at the identity provider as {email}, but nobody with that address is known "
                    "in wijkflow; ask an administrator to add you.")


class SignedIn(NamedTuple):
    """Who a session or token belongs to: the person row, and the session or token row."""

    person: Any
    session: Any = None
    token: Any = None


def digest(secret: str) -> str:
    """How a secret is stored and looked up: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _live(person: Any) -> bool:
    return person is not None and person.forgotten_at is None and person.email is not None


# --- browser sessions ---


def _open_session(app: App, conn: Any, person: Any, method: str, now: datetime, replaces: str | None
                  ) -> tuple[int, str]:
    if method not in ("oidc", "link"):
        raise InvalidInput(f"Unknown sign-in method '{method}'.")
    if not _live(person):
        raise NotAllowed("This person is not known here (any more).")
    secret = secrets.token_urlsafe(32)
    if replaces:
        sql.end_session(conn, digest(replaces), now)
    # Rows nothing can use any more go as someone signs in: the tables stay as small as their use.
    sql.delete_stale(conn, now - timedelta(days=1))
    sid = sql.insert_session(conn, secret_hash=digest(secret), person_id=person.id, method=method, now=now,
                             expires=now + timedelta(hours=app.settings.session_hours))
    log.info("signed in: person %s by %s, session %s", person.id, method, sid)
    return sid, secret


def start_session(app: App, person_id: int, method: str, *, replaces: str | None = None) -> tuple[int, str]:
    """A new session for the person: its id and its secret (for the cookie). Always a fresh secret, so a
    session id planted in a browser before sign-in is never the one signed in (no session fixation); the
    session the browser had (`replaces`, its secret) ends in the same transaction."""
    now = app.now()
    with app.db.write() as conn:
        return _open_session(app, conn, sql.person_row(conn, person_id), method, now, replaces)


def sign_in_verified_email(app: App, email: str, *, replaces: str | None = None) -> tuple[int, str]:
    """A session for the person whose email the identity provider vouched for (OIDC); NotAllowed, in words the
    page shows, when nobody (or only someone erased) has that address. Adds nobody."""
    now = app.now()
    with app.db.write() as conn:
        person: Any = store.person_by_email(conn, email.strip().lower())
        if not _live(person):
            log.warning("OIDC sign-in of an address nobody has")
            raise NotAllowed(UNKNOWN_PERSON)
        return _open_session(app, conn, person, "oidc", now, replaces)


def session_person(app: App, secret: str) -> SignedIn | None:
    """The person and session for a cookie's secret; None when unknown, ended, expired or the person erased."""
    if not secret:
        return None
    with app.db.read() as conn:
        found = sql.session_with_person(conn, digest(secret))
    if found is None:
        return None
    session, person = found
    if session.ended_at is not None or session.expires_at <= app.now() or not _live(person):
        return None
    return SignedIn(person=person, session=session)


def end_session(app: App, secret: str) -> bool:
    """Sign out: the session ends at once (the cookie alone no longer signs anyone in)."""
    with app.db.write() as conn:
        ended = sql.end_session(conn, digest(secret), app.now()) > 0
    return ended


# --- personal access tokens ---


def _holder(conn: Any, email: str | None) -> Any:
    """The acting person for their own tokens: any known person, auditors too (they read through the server
    with one); nobody named, or someone unknown, is refused as `actor()` refuses them."""
    claims_allowed(conn)  # on an identity = "server" installation only inside the server: no local minting
    if not email or not email.strip():
        raise NotAllowed("Say who you are with --as EMAIL (or set WIJKFLOW_USER).")
    row = store.person_by_email(conn, email.strip().lower())
    if not _live(row):
        raise NotAllowed(f"{email.strip()} is not a known person in this database; "
                         "an administrator can add you with `wijkflow people add`.")
    return row


def _token_days(app: App, days: int | None) -> int:
    most = app.settings.token_days
    if days is None:
        return most
    if isinstance(days, bool) or not 1 <= days <= most:
        raise InvalidInput(f"A token lasts 1 to {most} days (the setting token_days), not {days}.")
    return days


def _issue_token(app: App, conn: Any, person: Any, name: str, days: int, now: datetime) -> dict[str, Any]:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = now + timedelta(days=days)
    tid = sql.insert_token(conn, secret_hash=digest(secret), prefix=secret[:SHOWN_PREFIX], person_id=person.id,
                           name=name, now=now, expires=expires)
    store.append_event(conn, at=now, type="token_created", actor_id=person.id,
                       payload={"person_id": person.id, "token_id": tid, "days": days})
    return {"id": tid, "token": secret, "prefix": secret[:SHOWN_PREFIX], "name": name,
            "expires": expires.astimezone(app.tz).isoformat(timespec="seconds")}


def create_token(app: App, acting_email: str | None, name: str, days: int | None = None) -> dict[str, Any]:
    """A new personal access token for the acting person: {"id","token","prefix","name","expires"}.
    The token itself is in this answer only; the database keeps its hash."""
    name = clean_name(name, "token name")
    lasting = _token_days(app, days)
    now = app.now()
    with app.db.write() as conn:
        person = _holder(conn, acting_email)
        made = _issue_token(app, conn, person, name, lasting, now)
    log.info("token %s created by person %s", made["id"], person.id)
    return made


def _token_view(app: App, row: Any) -> dict[str, Any]:
    now = app.now()
    state = "revoked" if row.revoked_at is not None else "expired" if row.expires_at <= now else "active"

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(app.tz).isoformat(timespec="seconds") if moment else None

    return {"id": row.id, "name": row.name, "prefix": row.prefix, "created": local(row.created_at),
            "expires": local(row.expires_at), "last_used": local(row.last_used_at),
            "revoked": local(row.revoked_at), "state": state}


def list_tokens(app: App, acting_email: str | None) -> list[dict[str, Any]]:
    """The acting person's own tokens, oldest first (never the tokens themselves: only their prefixes)."""
    with app.db.read() as conn:
        person = _holder(conn, acting_email)
        rows = sql.tokens_of(conn, person.id)
    return [_token_view(app, r) for r in rows]


def revoke_token(app: App, acting_email: str | None, token_id: int) -> dict[str, Any]:
    """Revoke a token: one's own, or anyone's by an administrator. Works at once, for every request after."""
    now = app.now()
    with app.db.write() as conn:
        person = _holder(conn, acting_email)
        row = sql.token(conn, token_id)
        if row is None:
            raise NotFound(f"No token {token_id}; `wijkflow token list` shows yours.")
        if row.person_id != person.id and person.role != "admin":
            raise NotAllowed(f"Token {token_id} is not yours; only an administrator may revoke another person's "
                             "token.")
        if row.revoked_at is not None:
            raise Conflict(f"Token {token_id} was revoked already; nothing was changed.")
        sql.revoke_token(conn, row.id, now)
        store.append_event(conn, at=now, type="token_revoked", actor_id=person.id,
                           payload={"person_id": row.person_id, "token_id": row.id})
        row = sql.token(conn, token_id)
    log.info("token %s revoked by person %s", token_id, person.id)
    return _token_view(app, row)


def token_sign_in(app: App, token: str) -> SignedIn:
    """The person and token for a bearer token; NotAllowed when unknown, expired, revoked or the person erased.
    Notes the use (`last_used_at`, at most once a minute)."""
    refused = NotAllowed("The access token is unknown, expired or revoked; make a new one with "
                         "`wijkflow login SERVER` or on the page /tokens.")
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise refused
    now = app.now()
    with app.db.read() as conn:
        found = sql.token_with_person(conn, digest(token))
    if found is None:
        raise refused
    row, person = found
    if row.revoked_at is not None or row.expires_at <= now or not _live(person):
        raise refused
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() >= TOKEN_TOUCH_SECONDS:
        with app.db.write() as conn:
            sql.token_used(conn, row.id, now)
    return SignedIn(person=person, token=row)


def token_person(app: App, token: str) -> Any:
    """The person row a bearer token belongs to (see token_sign_in)."""
    return token_sign_in(app, token).person


# --- login links by email ---


def _link_message(app: App, person: Any, url: str, now: datetime) -> Any:
    from ..reminders.render import Rendered, build_message

    lang = person.locale or "nl"
    subject = t(lang, "Your sign-in link for wijkflow")
    lines = [t(lang, "Hello {name},", name=person.name),
             t(lang, "Open this link in the same browser in which you asked for it, within {minutes} minutes; "
                     "it works once:", minutes=LINK_MINUTES),
             url,
             t(lang, "Did you not ask for it? Then you can ignore this message: nobody signs in without the browser "
                     "that asked.")]
    html = "".join(f"<p>{escape(line)}</p>" if line != url else f'<p><a href="{escape(url)}">{escape(url)}</a></p>'
                   for line in lines)
    rendered = Rendered(subject=subject, text="\n\n".join(lines) + "\n", html=f"<html><body>{html}</body></html>")
    domain = app.settings.mail_from.rsplit("@", 1)[-1].strip(" >") or "wijkflow.invalid"
    return build_message(mail_from=app.settings.mail_from, to_name=person.name, to_addr=person.email,
                         rendered=rendered, message_id=f"<login.{secrets.token_hex(12)}@{domain}>", now=now,
                         locale=lang)


def send_login_link(app: App, email: str, browser_nonce: str) -> None:
    """Mail a one-time sign-in link to `email` if it is a known person; nothing at all otherwise.

    The answer is the same either way (None), so nobody learns whether an address is known. The link
    works once, for LINK_MINUTES, and only in the browser holding `browser_nonce` (its hash is stored).
    It goes through the configured mailer (SMTP, or .eml files in the outbox directory) after the
    transaction, directly: a sign-in link cannot wait for the reminder sweep. The link points at
    settings.server_url, never at the Host a request named (or anyone could have links to their own
    host mailed to people, with a secret bound to their own browser in it).
    """
    if not app.settings.login_links:
        raise NotAllowed(LINKS_OFF)
    if not app.settings.server_url:
        raise NotAllowed(LINKS_NEED_URL)
    if not browser_nonce:
        raise InvalidInput("No browser to bind the link to.")
    try:
        address = clean_email(email)
    except InvalidInput:
        return None
    now = app.now()
    secret = secrets.token_urlsafe(32)
    with app.db.write() as conn:
        person: Any = store.person_by_email(conn, address)
        if not _live(person):
            log.info("sign-in link asked for an unknown address")
            return None
        sql.insert_login_link(conn, secret_hash=digest(secret), browser_hash=digest(browser_nonce),
                              person_id=person.id, now=now, expires=now + timedelta(minutes=LINK_MINUTES))
    base = app.settings.server_url.rstrip("/")
    msg = _link_message(app, person, f"{base}/aanmelden/link/{secret}", now)
    from ..reminders.mailers import mailer_for

    mailer = mailer_for(app.settings)
    try:
        mailer.send(msg, person.email)
    finally:
        mailer.close()
    log.info("sign-in link sent to person %s", person.id)
    return None


def _use_link(conn: Any, secret: str, browser_nonce: str, now: datetime) -> Any:
    link = sql.login_link(conn, digest(secret)) if secret else None
    if link is None:
        raise NotAllowed(LINK_INVALID)
    if link.used_at is not None:
        raise NotAllowed(LINK_USED)
    if link.expires_at <= now:
        raise NotAllowed(LINK_EXPIRED)
    if not browser_nonce or not secrets.compare_digest(link.browser_hash, digest(browser_nonce)):
        raise NotAllowed(LINK_OTHER_BROWSER)
    person: Any = sql.person_row(conn, link.person_id)
    if not _live(person) or not sql.use_login_link(conn, link.id, now):
        raise NotAllowed(LINK_INVALID)
    return person


def use_login_link(app: App, secret: str, browser_nonce: str) -> Any:
    """The person a sign-in link is for, using it up. Refused (NotAllowed) when unknown, used, expired, or
    opened in another browser than the one that asked for it."""
    with app.db.write() as conn:
        return _use_link(conn, secret, browser_nonce, app.now())


def sign_in_with_link(app: App, secret: str, browser_nonce: str, *, replaces: str | None = None) -> tuple[int, str]:
    """use_login_link and start_session in one transaction: the link is used up exactly when the session starts."""
    now = app.now()
    with app.db.write() as conn:
        person = _use_link(conn, secret, browser_nonce, now)
        return _open_session(app, conn, person, "link", now, replaces)


# --- `wijkflow login SERVER`: the CLI's device flow ---


def _user_code() -> str:
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    return f"{code[:4]}-{code[4:]}"


def normal_user_code(code: str) -> str:
    """A user code as typed (lower case, without the dash, with spaces) in its stored form ABCD-EFGH."""
    plain = "".join(c for c in code.upper() if c.isalnum())
    return f"{plain[:4]}-{plain[4:]}" if len(plain) == 8 else plain


def cli_login_start(app: App, host: str) -> dict[str, Any]:
    """A CLI asks to be signed in: a device code (secret, for polling) and a user code the person confirms
    in the browser on `verify_path`."""
    host = (clean_name(host, "host name") or "?")[:100]
    device = secrets.token_urlsafe(32)
    now = app.now()
    expires = now + timedelta(minutes=CLI_LOGIN_MINUTES)
    with app.db.write() as conn:
        for _ in range(5):
            code = _user_code()
            if sql.cli_login_by_code(conn, code) is None:
                break
        sql.insert_cli_login(conn, device_hash=digest(device), user_code=code, host=host, now=now, expires=expires)
    return {"device_code": device, "user_code": code, "verify_path": "/cli/koppelen",
            "expires": expires.astimezone(app.tz).isoformat(timespec="seconds"),
            "interval": 2}


def cli_login_pending(app: App, user_code: str) -> dict[str, Any]:
    """What the confirm page shows: the host and code of a CLI login still waiting (NotFound otherwise)."""
    code = normal_user_code(user_code)
    with app.db.read() as conn:
        row = sql.cli_login_by_code(conn, code)
    if row is None or row.person_id is not None or row.expires_at <= app.now():
        raise NotFound(f"No CLI waiting with code {code[:9]}; start `wijkflow login SERVER` again.")
    return {"user_code": row.user_code, "host": row.host,
            "expires": row.expires_at.astimezone(app.tz).isoformat(timespec="seconds")}


def cli_login_approve(app: App, acting_email: str | None, user_code: str) -> dict[str, Any]:
    """The signed-in person confirms a CLI login: the next poll gets a token for them."""
    code = normal_user_code(user_code)
    now = app.now()
    with app.db.write() as conn:
        person = _holder(conn, acting_email)
        row = sql.cli_login_by_code(conn, code)
        if row is None or row.expires_at <= now:
            raise NotFound(f"No CLI waiting with code {code[:9]}; start `wijkflow login SERVER` again.")
        if row.person_id is not None or not sql.approve_cli_login(conn, row.id, person.id):
            raise Conflict("This CLI login was confirmed already; nothing was changed.")
    log.info("CLI login %s approved by person %s", row.id, person.id)
    return {"user_code": code, "host": row.host}


def cli_login_poll(app: App, device_code: str) -> dict[str, Any]:
    """The CLI asks whether its login was confirmed: {"status": "pending"} or {"status": "expired"}, or once,
    {"status": "approved", "token", "expires", "email", ...}. The token is made at this moment, so it is
    never stored anywhere but in the answer (and its hash)."""
    now = app.now()
    with app.db.write() as conn:
        row = sql.cli_login_by_device(conn, digest(device_code)) if device_code else None
        if row is None:
            raise NotFound("No such CLI login; start `wijkflow login SERVER` again.")
        if row.claimed_at is not None:
            return {"status": "expired"}
        if row.person_id is None:
            return {"status": "expired" if row.expires_at <= now else "pending"}
        person: Any = sql.person_row(conn, row.person_id)
        if not _live(person):
            return {"status": "expired"}
        made = _issue_token(app, conn, person, f"wijkflow login ({row.host})"[:200], app.settings.token_days, now)
        if not sql.claim_cli_login(conn, row.id, made["id"], now):
            raise Conflict("This CLI login was claimed already.")
    return {"status": "approved", "token": made["token"], "token_id": made["id"], "expires": made["expires"],
            "email": person.email}

