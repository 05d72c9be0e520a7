"""Shared pieces of the use-cases: who is acting, which aanpak, parsing user input."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from .. import store
from ..definitions import Definition
from ..errors import InvalidInput, NotAllowed, NotFound
from ..gates import Facts, IndicatorFact, Record

MAX_NAME = 200
MAX_TEXT = 4000
EMAIL_RE = re.compile(r"^[^@\s<>\"',;:()\[\]\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_text(value: str | None, what: str, *, max_len: int = MAX_TEXT, required: bool = False,
               multiline: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInput(f"The {what} may not be empty.")
        return None
    value = value.strip()
    if len(value) > max_len:
        raise InvalidInput(f"The {what} is {len(value)} characters long; at most {max_len} are allowed.")
    checked = value.replace("\r\n", "").replace("\n", "").replace("\t", "") if multiline else value
    if _CONTROL.search(checked):
        raise InvalidInput(f"The {what} contains control characters (such as a line break); remove them.")
    return value


def clean_name(value: str | None, what: str = "name") -> str:
    out = clean_text(value, what, max_len=MAX_NAME, required=True)
    assert out is not None
    return out


def clean_email(value: str | None) -> str:
    if value is None or not value.strip():
        raise InvalidInput("An email address is needed.")
    email = value.strip().lower()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise InvalidInput(f"'{value.strip()}' is not an email address.")
    if not email.isascii():
        # Reminders go out without SMTPUTF8 (most municipal mail servers lack it): such an address cannot be reached.
        raise InvalidInput(f"'{value.strip()}' has letters outside ASCII; wijkflow's reminders can only reach "
                           "plain ASCII addresses.")
    return email


def parse_date(value: str | date, what: str = "date") -> date:
    if isinstance(value, date):
        return value
    text = (value or "").strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise InvalidInput(f"'{value}' is not a valid {what}; use YYYY-MM-DD, e.g. 2026-03-01.")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'{value}' is not a valid {what}: that day does not exist.") from None
    if not 1900 <= day.year <= 9000:  # days and time zones are added to it: year 1 or 9999 would overflow
        raise InvalidInput(f"'{value}' is not a valid {what}: give a year between 1900 and 9000.")
    return day


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


def actor(conn: sa.Connection, email: str | None) -> Any:
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


@dataclass
class Context:
    """One aanpak with its pinned definition and who holds which role on it."""

    row: Any
    definition: Definition
    roles: list[Any]

    def holders(self, role: str) -> set[int]:
        return {r.person_id for r in self.roles if r.role == role}

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
    row = store.find_aanpak(conn, ref)
    return Context(row=row, definition=store.definition(conn, definitions, row.definition_id, row.definition_hash),
                   roles=store.roles(conn, row.id))


def actor_and_load(conn: sa.Connection, email: str | None, ref: str,
                   definitions: dict[str, Definition]) -> tuple[Any, Context]:
    """actor() then load(), with the person and the aanpak read in one statement.

    Every refusal (nobody named, unknown person, auditor, unknown aanpak) is left to actor()
    and load() themselves, so its order and wording are theirs.
    """
    key = email.strip().lower() if email else ""
    found = store.find_aanpak_with_person(conn, ref, key) if key and EMAIL_RE.match(key) else None
    if found is None or found[1] is None or found[1].role == "auditor":
        return actor(conn, email), load(conn, ref, definitions)
    row, who = found
    return who, Context(row=row, definition=store.definition(conn, definitions, row.definition_id,
                                                             row.definition_hash),
                        roles=store.roles(conn, row.id))


def facts(conn: sa.Connection, ctx: Context) -> Facts:
    """What the gates out of the current phase are evaluated on; indicators only when a gate asks."""
    row = ctx.row
    recs = tuple(
        Record(criterion=r.criterion, action=r.action, person_id=r.person_id, at=r.at,
               evidence=r.evidence, comment=r.comment)
        for r in store.records(conn, row.id, row.visit))
    # Only read what the gates out of this phase look at: most steps need just the records.
    kinds = ctx.definition.kinds_out_of(row.phase)
    inds: tuple[IndicatorFact, ...] = ()
    if kinds & {"indicators", "targets", "interpretation"}:
        inds = tuple(IndicatorFact(key=i.key, label=i.label, has_baseline=i.baseline is not None,
                                   measurements=len(ms), direction=i.direction, baseline=i.baseline,
                                   target=i.target, latest=ms[-1].value if ms else None,
                                   latest_recorded_at=max((m.at for m in ms), default=None),
                                   recent=sum(1 for m in ms if m.at >= row.phase_since))
                     for i, ms in store.indicator_facts(conn, row.id))
    programme = None
    if kinds & PROGRAMME_KINDS:
        from .programme_facts import programme_facts

        programme = programme_facts(conn, ctx)
    return Facts(phase=row.phase, phase_since=row.phase_since, records=recs, indicators=inds,
                 programme=programme)


PROGRAMME_KINDS = frozenset({"targets", "interpretation", "analysis", "agenda", "themes", "parties"})


def person_ref(people: dict[int, Any], person_id: int | None) -> dict[str, Any] | None:
    """How a person appears in output: erased people stay an id, never a name."""
    if person_id is None:
        return None
    p = people.get(person_id)
    if p is None or p.forgotten_at is not None:
        return {"id": person_id, "email": None, "name": "(forgotten person)"}
    return {"id": person_id, "email": p.email, "name": p.name}


def local_iso(moment: datetime | None, tz: ZoneInfo) -> str | None:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None
