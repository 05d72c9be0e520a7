"""Shared pieces of the use-cases: who is acting, which aanpak, parsing user input."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from .. import provenance, store
from ..definitions import Definition
from ..errors import InvalidInput, NotAllowed, NotFound
from ..gates import Facts, load_facts
from ..roles import FORGOTTEN_PERSON
from ..validation import EMAIL_RE, MAX_NAME, MAX_TEXT, clean_email, clean_name, clean_text, parse_date

__all__ = ["EMAIL_RE", "MAX_NAME", "MAX_TEXT", "STATUS_LABELS", "Context", "actor", "actor_and_load", "claims_allowed",
           "clean_email", "clean_name", "clean_text", "ended", "facts", "load", "load_open", "local_iso",
           "local_midnight_utc", "origin_of", "parse_date", "person", "person_ref", "require_admin", "service_actor",
           "slugify"]


def local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(UTC)


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:80].strip("-")
    if not slug or slug.isdigit():
        slug = f"aanpak-{slug}" if slug else "aanpak"
    return slug


def person(conn: sa.Connection, email: str, what: str = "person") -> Any:
    row = store.person_by_email(conn, clean_email(email))
    if row is None:
        raise NotFound(f"No {what} with email {email.strip()}; add them first with "
                       "`wijkflow people add EMAIL --name NAME`.")
    return row


def claims_allowed(conn: sa.Connection) -> None:
    """Refused (exit 5) when this installation takes identity from its server (identity = "server") and the
    change is not made inside the server for a person who signed in (provenance.verified)."""
    if not provenance.allows_claims(conn.info.get("identity")):
        raise NotAllowed(provenance.SERVER_IDENTITY)


def actor(conn: sa.Connection, email: str | None) -> Any:
    """The person a change is made by: named (--as, WIJKFLOW_USER, or the server's signed-in person), known and
    not an auditor; on an identity = "server" installation only inside the server (claims_allowed)."""
    claims_allowed(conn)
    if not email:
        raise NotAllowed("Say who you are with --as EMAIL (or set WIJKFLOW_USER).")
    row = store.person_by_email(conn, email.strip().lower()) if EMAIL_RE.match(email.strip().lower()) else None
    if row is None:
        raise NotAllowed(f"{email.strip()} is not a known person in this database; "
                         "an administrator can add you with `wijkflow people add`.")
    if row.role == "auditor":
        # actor() is only called by use-cases that change something; auditors change nothing.
        raise NotAllowed(f"{row.email} is an auditor: auditors read everything and change nothing.")
    return row


def service_actor(conn: sa.Connection, email: str | None) -> Any:
    """For the service's own jobs (`reminders send`, `scheduler run`), run by cron or systemd without --as.

    Nobody named is fine; a person who is named must be known and may not be an auditor.
    """
    return actor(conn, email) if email and email.strip() else None


def require_admin(conn: sa.Connection, email: str | None, doing: str) -> Any:
    who = actor(conn, email)
    if who.role != "admin":
        raise NotAllowed(f"Only an administrator may {doing}; {who.email} is not one.")
    return who


# An aanpak's status besides its phase (models.Aanpak.status), with the Dutch label people see.
STATUS_LABELS = {"active": "Actief", "suspended": "Opgeschort", "stopped": "Stopgezet"}


def ended(row: Any, definition: Definition) -> str | None:
    """'stopped' (stopgezet), 'closed' (in the final phase) or None: may it still change?"""
    if row.status == "stopped":
        return "stopped"
    return "closed" if definition.is_final(row.phase) else None


class Context(store.LoadedAanpak):
    """One aanpak loaded for a use-case: the store's view of it plus who may do what."""

    def require_open(self) -> None:
        """Closed is closed: a stopped aanpak, or one in its final phase, accepts no change (exit 2)."""
        state = ended(self.row, self.definition)
        if state is None:
            return
        label = STATUS_LABELS["stopped"] if state == "stopped" else self.definition.phase_label(self.row.phase)
        raise InvalidInput(f"{self.row.name} is {state} ({label}) and accepts no changes; "
                           f"an administrator may reopen it with `wijkflow reopen {self.row.slug} --reason`.")

    def require_any(self, who: Any, roles: tuple[str, ...], doing: str) -> None:
        """Refused unless `who` holds one of `roles`; the refusal names the first (the usual one)."""
        if not any(who.id in self.holders(r) for r in roles):
            self.require_role(who, roles[0], doing)

    def require_role(self, who: Any, role: str, doing: str) -> None:
        if who.id not in self.holders(role):
            raise NotAllowed(f"Only someone with the {role} role on {self.row.name} may {doing}; "
                             f"{who.email} does not have it (see `wijkflow show {self.row.slug}`).")


def load(conn: sa.Connection, ref: str, definitions: dict[str, Definition]) -> Context:
    """The aanpak, its definition (parsed once per App: `definitions` is app.definitions) and its roles."""
    a = store.load_aanpak(conn, ref, definitions)
    return Context(row=a.row, definition=a.definition, roles=a.roles)


def load_open(conn: sa.Connection, ref: str, definitions: dict[str, Definition]) -> Context:
    """load() for a change: refused when the aanpak is closed or stopped (Context.require_open)."""
    ctx = load(conn, ref, definitions)
    ctx.require_open()
    return ctx


def actor_and_load(conn: sa.Connection, email: str | None, ref: str,
                   definitions: dict[str, Definition]) -> tuple[Any, Context]:
    """actor() then load(), with the person and the aanpak read in one statement.

    Every refusal (nobody named, unknown person, auditor, unknown aanpak) is left to actor()
    and load() themselves, so its order and wording are theirs.
    """
    claims_allowed(conn)
    key = email.strip().lower() if email else ""
    found = store.find_aanpak_with_person(conn, ref, key) if key and EMAIL_RE.match(key) else None
    if found is None or found[1] is None or found[1].role == "auditor":
        return actor(conn, email), load(conn, ref, definitions)
    row, who = found
    a = store.load_aanpak(conn, ref, definitions, row=row)
    return who, Context(row=a.row, definition=a.definition, roles=a.roles)


def facts(conn: sa.Connection, ctx: Context) -> Facts:
    """What the gates out of the current phase are evaluated on (see gates.load_facts)."""
    return load_facts(conn, ctx.row, ctx.definition)


def person_ref(people: dict[int, Any], person_id: int | None) -> dict[str, Any] | None:
    """How a person appears in output: erased people stay an id, never a name."""
    if person_id is None:
        return None
    p = people.get(person_id)
    if p is None or p.forgotten_at is not None:
        return {"id": person_id, "email": None, "name": FORGOTTEN_PERSON}
    return {"id": person_id, "email": p.email, "name": p.name}


def origin_of(stored: str | None) -> dict[str, Any] | None:
    """An event's stored origin (canonical JSON text) as an object for output; None when it has none."""
    if not stored:
        return None
    try:
        found = json.loads(stored)
    except ValueError:  # not what wijkflow writes: `audit verify` names the event
        return {"unreadable": stored}
    return found if isinstance(found, dict) else {"unreadable": stored}


def local_iso(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None
