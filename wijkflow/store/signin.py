"""Signing in: browser sessions, personal access tokens, login links and CLI logins (issue 18).

Every secret is looked up by its SHA-256 (hex); the secret itself is never stored. The functions
take the hash, not the secret: hashing is the service's business (services/signin.py).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ..models import API_TOKEN, CLI_LOGIN, LOGIN_LINK, PERSON, WEB_SESSION
from .common import Row, insert_row

# --- browser sessions ---


def insert_session(conn: sa.Connection, *, secret_hash: str, person_id: int, method: str, now: datetime,
                   expires: datetime) -> int:
    return insert_row(conn, WEB_SESSION, {"secret_hash": secret_hash, "person_id": person_id, "method": method,
                                          "created_at": now, "expires_at": expires})


def session_with_person(conn: sa.Connection, secret_hash: str) -> tuple[Row, Row] | None:
    """The session with this hash and its person, whatever their state (the caller judges expiry)."""
    s = conn.execute(sa.select(WEB_SESSION).where(WEB_SESSION.c.secret_hash == secret_hash)).first()
    if s is None:
        return None
    p = conn.execute(sa.select(PERSON).where(PERSON.c.id == s.person_id)).first()
    return (s, p) if p is not None else None


def end_session(conn: sa.Connection, secret_hash: str, now: datetime) -> int:
    result = conn.execute(WEB_SESSION.update().where(WEB_SESSION.c.secret_hash == secret_hash,
                                                     WEB_SESSION.c.ended_at.is_(None)).values(ended_at=now))
    return int(result.rowcount)


def delete_stale(conn: sa.Connection, before: datetime) -> None:
    """Sessions, sign-in links and CLI logins that ended or expired before `before`: nothing can use them."""
    conn.execute(WEB_SESSION.delete().where(sa.or_(WEB_SESSION.c.expires_at < before, WEB_SESSION.c.ended_at < before)))
    conn.execute(LOGIN_LINK.delete().where(LOGIN_LINK.c.expires_at < before))
    conn.execute(CLI_LOGIN.delete().where(CLI_LOGIN.c.expires_at < before))


# --- personal access tokens ---


def insert_token(conn: sa.Connection, *, secret_hash: str, prefix: str, person_id: int, name: str,
                 now: datetime, expires: datetime) -> int:
    return insert_row(conn, API_TOKEN, {"secret_hash": secret_hash, "prefix": prefix, "person_id": person_id,
                                        "name": name, "created_at": now, "expires_at": expires})


def token_with_person(conn: sa.Connection, secret_hash: str) -> tuple[Row, Row] | None:
    t = conn.execute(sa.select(API_TOKEN).where(API_TOKEN.c.secret_hash == secret_hash)).first()
    if t is None:
        return None
    p = conn.execute(sa.select(PERSON).where(PERSON.c.id == t.person_id)).first()
    return (t, p) if p is not None else None


def token(conn: sa.Connection, token_id: int) -> Row | None:
    return conn.execute(sa.select(API_TOKEN).where(API_TOKEN.c.id == token_id)).first()


def tokens_of(conn: sa.Connection, person_id: int) -> list[Row]:
    return list(conn.execute(sa.select(API_TOKEN).where(API_TOKEN.c.person_id == person_id)
                             .order_by(API_TOKEN.c.id)))


def token_used(conn: sa.Connection, token_id: int, now: datetime) -> None:
    conn.execute(API_TOKEN.update().where(API_TOKEN.c.id == token_id).values(last_used_at=now))


def revoke_token(conn: sa.Connection, token_id: int, now: datetime) -> None:
    conn.execute(API_TOKEN.update().where(API_TOKEN.c.id == token_id, API_TOKEN.c.revoked_at.is_(None))
                 .values(revoked_at=now))


# --- login links ---


def insert_login_link(conn: sa.Connection, *, secret_hash: str, browser_hash: str, person_id: int, now: datetime,
                      expires: datetime) -> int:
    return insert_row(conn, LOGIN_LINK, {"secret_hash": secret_hash, "browser_hash": browser_hash,
                                         "person_id": person_id, "created_at": now, "expires_at": expires})


def login_link(conn: sa.Connection, secret_hash: str) -> Row | None:
    return conn.execute(sa.select(LOGIN_LINK).where(LOGIN_LINK.c.secret_hash == secret_hash)).first()


def use_login_link(conn: sa.Connection, link_id: int, now: datetime) -> bool:
    """Mark the link used; False when another request used it first (single use holds under races)."""
    result = conn.execute(LOGIN_LINK.update().where(LOGIN_LINK.c.id == link_id, LOGIN_LINK.c.used_at.is_(None))
                          .values(used_at=now))
    return bool(result.rowcount == 1)


def person_row(conn: sa.Connection, person_id: int) -> Row | None:
    return conn.execute(sa.select(PERSON).where(PERSON.c.id == person_id)).first()


# --- CLI logins (`wijkflow login SERVER`) ---


def insert_cli_login(conn: sa.Connection, *, device_hash: str, user_code: str, host: str, now: datetime,
                     expires: datetime) -> int:
    return insert_row(conn, CLI_LOGIN, {"device_hash": device_hash, "user_code": user_code, "host": host,
                                        "created_at": now, "expires_at": expires})


def cli_login_by_code(conn: sa.Connection, user_code: str) -> Row | None:
    return conn.execute(sa.select(CLI_LOGIN).where(CLI_LOGIN.c.user_code == user_code)).first()


def cli_login_by_device(conn: sa.Connection, device_hash: str) -> Row | None:
    return conn.execute(sa.select(CLI_LOGIN).where(CLI_LOGIN.c.device_hash == device_hash)).first()


def approve_cli_login(conn: sa.Connection, login_id: int, person_id: int) -> bool:
    result = conn.execute(CLI_LOGIN.update().where(CLI_LOGIN.c.id == login_id, CLI_LOGIN.c.person_id.is_(None))
                          .values(person_id=person_id))
    return bool(result.rowcount == 1)


def claim_cli_login(conn: sa.Connection, login_id: int, token_id: int, now: datetime) -> bool:
    result = conn.execute(CLI_LOGIN.update().where(CLI_LOGIN.c.id == login_id, CLI_LOGIN.c.claimed_at.is_(None))
                          .values(token_id=token_id, claimed_at=now))
    return bool(result.rowcount == 1)
