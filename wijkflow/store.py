"""All SQL lives here. Functions take an open connection; the caller owns the transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from . import audit, rawsql
from .definitions import Definition
from .errors import Conflict, InvalidInput, NotFound
from .models import (
    Aanpak,
    AanpakRole,
    AuditEvent,
    CriterionDeadline,
    CriterionRecord,
    Indicator,
    Measurement,
    Person,
    Reminder,
    ReminderMessage,
    WorkflowDefinition,
)

person_t = Person.__table__
definition_t = WorkflowDefinition.__table__
aanpak_t = Aanpak.__table__
role_t = AanpakRole.__table__
record_t = CriterionRecord.__table__
deadline_t = CriterionDeadline.__table__
indicator_t = Indicator.__table__
measurement_t = Measurement.__table__
event_t = AuditEvent.__table__
reminder_t = Reminder.__table__
message_t = ReminderMessage.__table__

Row = sa.Row[Any]

# --- people -------------------------------------------------------------------------


def person_by_email(conn: sa.Connection, email: str) -> Row | None:
    return rawsql.first(conn, "SELECT * FROM person WHERE email = :email", email=email.strip().lower())


def people_by_id(conn: sa.Connection, ids: set[int], *, known: tuple[Any, ...] = ()) -> dict[int, Row]:
    """People by id; rows the caller already holds (`known`) are not fetched again."""
    found = {p.id: p for p in known if p is not None and p.id in ids}
    missing = sorted(i for i in ids if i is not None and i not in found)
    if missing:
        marks = ", ".join(f":p{n}" for n in range(len(missing)))
        params = {f"p{n}": i for n, i in enumerate(missing)}
        for r in rawsql.rows(conn, f"SELECT * FROM person WHERE id IN ({marks})", **params):
            found[r.id] = r
    return found


def insert_person(conn: sa.Connection, *, email: str, name: str, locale: str, role: str | None,
                  now: datetime) -> int:
    return conn.execute(
        person_t.insert().values(email=email, name=name, locale=locale, role=role, created_at=now)
    ).inserted_primary_key[0]


def list_people(conn: sa.Connection) -> list[Row]:
    return list(conn.execute(sa.select(person_t).order_by(person_t.c.id)))


def erase_person(conn: sa.Connection, person_id: int, now: datetime) -> None:
    conn.execute(person_t.update().where(person_t.c.id == person_id)
                 .values(email=None, name=None, role=None, forgotten_at=now))


# --- definitions ----------------------------------------------------------------------

_definition_cache: dict[str, Definition] = {}


def pin_definition(conn: sa.Connection, d: Definition, now: datetime) -> int:
    """The id of the stored copy of this definition version, storing it the first time.

    A file edited without raising its version is refused: aanpakken already pinned to
    that version must keep the rules they started with.
    """
    digest = d.content_hash()
    row = conn.execute(sa.select(definition_t.c.id, definition_t.c.hash).where(
        definition_t.c.name == d.name, definition_t.c.version == d.version)).first()
    if row is not None:
        if row.hash != digest:
            raise InvalidInput(
                f"Workflow '{d.name}' version {d.version} was changed after aanpakken started on it; "
                f"give the changed definition a new version number (e.g. {d.version + 1}).")
        return row.id
    return conn.execute(definition_t.insert().values(
        name=d.name, version=d.version, hash=digest, body=d.canonical_json(), loaded_at=now)
    ).inserted_primary_key[0]


def definition(conn: sa.Connection, definition_id: int, digest: str | None = None) -> Definition:
    """The stored definition, parsed once per process per content hash (stored versions never change).

    `digest`: the hash when the caller already read it (find_aanpak returns it as definition_hash).
    """
    if digest is None:
        digest = rawsql.first(conn, "SELECT hash FROM workflow_definition WHERE id = :id", id=definition_id).hash
    cached = _definition_cache.get(digest)
    if cached is None:
        row = rawsql.first(conn, "SELECT body FROM workflow_definition WHERE id = :id", id=definition_id)
        cached = Definition.model_validate_json(row.body)
        _definition_cache[digest] = cached
    return cached


def stored_definitions(conn: sa.Connection) -> list[Row]:
    return list(conn.execute(sa.select(definition_t).order_by(definition_t.c.name, definition_t.c.version)))


# --- aanpakken ------------------------------------------------------------------------


def find_aanpak(conn: sa.Connection, ref: str) -> Row:
    return _find_aanpak(conn, _FIND_AANPAK, ref)


def aanpak_version(conn: sa.Connection, ref: str) -> int:
    """Only the version (find_aanpak without the join and the row conversion): advance's early read."""
    return _find_aanpak(conn, "SELECT a.version FROM aanpak a WHERE ", ref).version


def _find_aanpak(conn: sa.Connection, select: str, ref: str) -> Row:
    ref = ref.strip()
    if ref.isdigit():
        row = rawsql.first(conn, select + "a.id = :id", id=int(ref)) if len(ref) < 19 else None
    else:
        row = rawsql.first(conn, select + "a.slug = :slug", slug=ref)
    if row is None:
        raise NotFound(f"No wijkaanpak '{ref}' (use its number or slug; `wijkflow list` shows them).")
    return row


_FIND_AANPAK = ("SELECT a.*, d.hash AS definition_hash FROM aanpak a "
                "JOIN workflow_definition d ON d.id = a.definition_id WHERE ")


def find_aanpak_with_person(conn: sa.Connection, ref: str, email: str) -> tuple[Row, Row | None] | None:
    """find_aanpak and person_by_email in one statement (a phase change runs both on every step).

    None when there is no such aanpak; the person is None when nobody has that email.
    """
    ref = ref.strip()
    if ref.isdigit():
        if len(ref) >= 19:
            return None
        found = rawsql.first_split(conn, _FIND_AANPAK_WITH_PERSON + "a.id = :id", "definition_hash",
                                   email=email, id=int(ref))
    else:
        found = rawsql.first_split(conn, _FIND_AANPAK_WITH_PERSON + "a.slug = :slug", "definition_hash",
                                   email=email, slug=ref)
    if found is None:
        return None
    row, person = found
    return row, (person if person.id is not None else None)


_FIND_AANPAK_WITH_PERSON = ("SELECT a.*, d.hash AS definition_hash, p.* FROM aanpak a "
                            "JOIN workflow_definition d ON d.id = a.definition_id "
                            "LEFT JOIN person p ON p.email = :email WHERE ")


def slug_taken(conn: sa.Connection, slug: str) -> bool:
    return conn.execute(sa.select(aanpak_t.c.id).where(aanpak_t.c.slug == slug)).first() is not None


def insert_aanpak(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(aanpak_t.insert().values(**values)).inserted_primary_key[0]


def change_phase(conn: sa.Connection, aanpak_id: int, *, expected_version: int, phase: str,
                 now: datetime) -> None:
    """Version-checked: exactly one of two concurrent phase changes lands."""
    changed = rawsql.write(
        conn, "UPDATE aanpak SET phase = :phase, phase_since = :now, updated_at = :now, visit = visit + 1, "
              "version = version + 1 WHERE id = :id AND version = :expected",
        phase=phase, now=rawsql.moment(conn, now), id=aanpak_id, expected=expected_version)
    if changed != 1:
        raise Conflict("Someone else changed this wijkaanpak's phase first; nothing was written. "
                       "Look again with `wijkflow show` and retry.")


def touch_aanpak(conn: sa.Connection, aanpak_id: int, now: datetime) -> None:
    rawsql.write(conn, "UPDATE aanpak SET updated_at = :now WHERE id = :id", now=rawsql.moment(conn, now),
                 id=aanpak_id)


def list_aanpakken(conn: sa.Connection, *, phase: str | None = None, wijk: str | None = None,
                   gemeente: str | None = None) -> list[Row]:
    return list(conn.execute(_aanpakken_query(phase=phase, wijk=wijk, gemeente=gemeente)))


def _aanpakken_query(*, phase: str | None, wijk: str | None, gemeente: str | None) -> Any:
    query = sa.select(aanpak_t, definition_t.c.name.label("workflow"),
                      definition_t.c.version.label("workflow_version")).join(
        definition_t, definition_t.c.id == aanpak_t.c.definition_id)
    if phase:
        query = query.where(aanpak_t.c.phase == phase)
    if wijk:
        query = query.where(sa.func.lower(aanpak_t.c.wijk) == wijk.lower())
    if gemeente:
        query = query.where(sa.func.lower(aanpak_t.c.gemeente) == gemeente.lower())
    return query.order_by(aanpak_t.c.id)


# --- roles ----------------------------------------------------------------------------


def roles(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return rawsql.rows(conn, "SELECT role, person_id FROM aanpak_role WHERE aanpak_id = :id ORDER BY id",
                       id=aanpak_id)


def add_role(conn: sa.Connection, aanpak_id: int, person_id: int, role: str) -> bool:
    exists = conn.execute(sa.select(role_t.c.id).where(
        role_t.c.aanpak_id == aanpak_id, role_t.c.person_id == person_id, role_t.c.role == role)).first()
    if exists:
        return False
    conn.execute(role_t.insert().values(aanpak_id=aanpak_id, person_id=person_id, role=role))
    return True


# --- criteria -------------------------------------------------------------------------


def records(conn: sa.Connection, aanpak_id: int, visit: int) -> list[Row]:
    """Records of this visit, plus the aanpak-wide ones (stored as visit 0)."""
    return rawsql.rows(conn, "SELECT * FROM criterion_record WHERE aanpak_id = :id AND visit IN (0, :visit) "
                             "ORDER BY id", id=aanpak_id, visit=visit)


def insert_record(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(record_t.insert().values(**values)).inserted_primary_key[0]


def set_deadline(conn: sa.Connection, aanpak_id: int, criterion: str, due: date) -> date | None:
    old = conn.execute(sa.select(deadline_t.c.due).where(
        deadline_t.c.aanpak_id == aanpak_id, deadline_t.c.criterion == criterion)).scalar()
    if old is None:
        conn.execute(deadline_t.insert().values(aanpak_id=aanpak_id, criterion=criterion, due=due))
    else:
        conn.execute(deadline_t.update().where(
            deadline_t.c.aanpak_id == aanpak_id, deadline_t.c.criterion == criterion).values(due=due))
    return old


def deadlines(conn: sa.Connection, aanpak_id: int) -> dict[str, date]:
    rows = conn.execute(sa.select(deadline_t.c.criterion, deadline_t.c.due)
                        .where(deadline_t.c.aanpak_id == aanpak_id))
    return {r.criterion: r.due for r in rows}


# --- indicators -----------------------------------------------------------------------


def indicators(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return list(conn.execute(sa.select(indicator_t).where(indicator_t.c.aanpak_id == aanpak_id)
                             .order_by(indicator_t.c.id)))


def indicator(conn: sa.Connection, aanpak_id: int, key: str) -> Row | None:
    return conn.execute(sa.select(indicator_t).where(
        indicator_t.c.aanpak_id == aanpak_id, indicator_t.c.key == key)).first()


def insert_indicator(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(indicator_t.insert().values(**values)).inserted_primary_key[0]


def measurements(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return list(conn.execute(
        sa.select(measurement_t, indicator_t.c.key).join(
            indicator_t, indicator_t.c.id == measurement_t.c.indicator_id)
        .where(indicator_t.c.aanpak_id == aanpak_id)
        .order_by(measurement_t.c.measured_on, measurement_t.c.id)))


def insert_measurement(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(measurement_t.insert().values(**values)).inserted_primary_key[0]


# --- audit events ---------------------------------------------------------------------


def append_event(conn: sa.Connection, *, at: datetime, type: str, aanpak_id: int | None = None,
                 actor_id: int | None = None, from_phase: str | None = None, to_phase: str | None = None,
                 reason: str | None = None, evidence: str | None = None,
                 payload: dict[str, Any] | None = None) -> int:
    """Append one event to the chain. The caller's write transaction serialises appends."""
    if conn.dialect.name == "postgresql":
        # One chain per database: appends must not interleave between reading the head and inserting.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242)"))
    last = rawsql.first(conn, "SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1")
    event = {
        "id": (last.id + 1) if last else 1,
        "at": at,
        "aanpak_id": aanpak_id,
        "type": type,
        "actor_id": actor_id,
        "from_phase": from_phase,
        "to_phase": to_phase,
        "reason": reason,
        "evidence": evidence,
        "payload": json.dumps(payload or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
    }
    prev = last.hash if last else audit.GENESIS
    digest = audit.chain_hash(prev, event)
    rawsql.write(conn, _INSERT_EVENT, **{**event, "at": rawsql.moment(conn, at)}, prev_hash=prev, hash=digest)
    return event["id"]


_INSERT_EVENT = (
    "INSERT INTO audit_event (id, at, aanpak_id, type, actor_id, from_phase, to_phase, reason, evidence, payload, "
    "prev_hash, hash) VALUES (:id, :at, :aanpak_id, :type, :actor_id, :from_phase, :to_phase, :reason, :evidence, "
    ":payload, :prev_hash, :hash)")


def events(conn: sa.Connection, aanpak_id: int | None = None) -> Iterator[Row]:
    query = sa.select(event_t).order_by(event_t.c.id)
    if aanpak_id is not None:
        query = query.where(event_t.c.aanpak_id == aanpak_id)
    yield from conn.execute(query)


def count_events(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(event_t)).scalar_one()


# --- programmes: interpretations, wijkontwikkelingsplan, themes, multi-party sign-off --------

from .models import (  # noqa: E402 - kept with the section that uses them
    AanpakTheme,
    IntendedResult,
    Interpretation,
    PartyApproval,
    PlanActivity,
    PlanPartner,
    PlanPoint,
)

interpretation_t = Interpretation.__table__
plan_point_t = PlanPoint.__table__
plan_partner_t = PlanPartner.__table__
activity_t = PlanActivity.__table__
theme_t = AanpakTheme.__table__
result_t = IntendedResult.__table__
party_t = PartyApproval.__table__


def indicator_facts(conn: sa.Connection, aanpak_id: int) -> list[tuple[Row, list[Row]]]:
    """Each indicator with its measurements, oldest first."""
    ms = measurements(conn, aanpak_id)
    return [(i, [m for m in ms if m.key == i.key]) for i in indicators(conn, aanpak_id)]


def insert_interpretation(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(interpretation_t.insert().values(**values)).inserted_primary_key[0]


def interpretations(conn: sa.Connection, aanpak_id: int, visit: int | None = None) -> list[Row]:
    query = sa.select(interpretation_t).where(interpretation_t.c.aanpak_id == aanpak_id)
    if visit is not None:
        query = query.where(interpretation_t.c.visit == visit)
    return list(conn.execute(query.order_by(interpretation_t.c.id)))


def insert_plan_point(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(plan_point_t.insert().values(**values)).inserted_primary_key[0]


def plan_points(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return list(conn.execute(sa.select(plan_point_t).where(plan_point_t.c.aanpak_id == aanpak_id)
                             .order_by(plan_point_t.c.id)))


def plan_partners(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return list(conn.execute(sa.select(plan_partner_t).where(plan_partner_t.c.aanpak_id == aanpak_id)
                             .order_by(plan_partner_t.c.id)))


def insert_plan_partner(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(plan_partner_t.insert().values(**values)).inserted_primary_key[0]


def activities(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return list(conn.execute(sa.select(activity_t).where(activity_t.c.aanpak_id == aanpak_id)
                             .order_by(activity_t.c.number)))


def activity(conn: sa.Connection, aanpak_id: int, number: int) -> Row | None:
    return conn.execute(sa.select(activity_t).where(activity_t.c.aanpak_id == aanpak_id,
                                                    activity_t.c.number == number)).first()


def insert_activity(conn: sa.Connection, **values: Any) -> int:
    """Numbers activities 1, 2, ... per aanpak; the write transaction serialises the numbering."""
    last = conn.execute(sa.select(sa.func.max(activity_t.c.number))
                        .where(activity_t.c.aanpak_id == values["aanpak_id"])).scalar()
    number = (last or 0) + 1
    conn.execute(activity_t.insert().values(number=number, **values))
    return number


def update_activity(conn: sa.Connection, activity_id: int, **values: Any) -> None:
    conn.execute(activity_t.update().where(activity_t.c.id == activity_id).values(**values))


def themes(conn: sa.Connection, aanpak_id: int) -> list[tuple[Row, list[Row]]]:
    rows = list(conn.execute(sa.select(theme_t).where(theme_t.c.aanpak_id == aanpak_id).order_by(theme_t.c.id)))
    if not rows:
        return []
    results = list(conn.execute(sa.select(result_t).where(result_t.c.theme_id.in_([r.id for r in rows]))
                                .order_by(result_t.c.id)))
    return [(t, [r for r in results if r.theme_id == t.id]) for t in rows]


def theme(conn: sa.Connection, aanpak_id: int, key: str) -> Row | None:
    return conn.execute(sa.select(theme_t).where(theme_t.c.aanpak_id == aanpak_id, theme_t.c.key == key)).first()


def insert_theme(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(theme_t.insert().values(**values)).inserted_primary_key[0]


def insert_intended_result(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(result_t.insert().values(**values)).inserted_primary_key[0]


def aanpak_ids_with_theme(conn: sa.Connection, key: str) -> set[int]:
    return set(conn.execute(sa.select(theme_t.c.aanpak_id).where(theme_t.c.key == key)).scalars())


def themes_by_aanpak(conn: sa.Connection) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for r in conn.execute(sa.select(theme_t.c.aanpak_id, theme_t.c.label).order_by(theme_t.c.id)):
        out.setdefault(r.aanpak_id, []).append(r.label)
    return out


def party_approvals(conn: sa.Connection, aanpak_id: int, visit: int) -> list[Row]:
    return list(conn.execute(sa.select(party_t).where(party_t.c.aanpak_id == aanpak_id, party_t.c.visit == visit)
                             .order_by(party_t.c.id)))


def insert_party_approval(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(party_t.insert().values(**values)).inserted_primary_key[0]


def update_indicator(conn: sa.Connection, indicator_id: int, **values: Any) -> None:
    conn.execute(indicator_t.update().where(indicator_t.c.id == indicator_id).values(**values))


# --- reminders ------------------------------------------------------------------------
# Occurrences (`reminder`) and the outbox (`reminder_message`). Claims are conditional
# UPDATEs whose rowcount says who won, so two sweeps on one database never take the same row.


def insert_reminder(conn: sa.Connection, **values: Any) -> int | None:
    """Schedule one occurrence; None when the same occurrence (dedupe key) is already there."""
    if conn.execute(sa.select(reminder_t.c.id).where(reminder_t.c.dedupe == values["dedupe"])).first():
        return None
    return conn.execute(reminder_t.insert().values(**values)).inserted_primary_key[0]


def cancel_reminders(conn: sa.Connection, aanpak_id: int, *, reason: str, now: datetime,
                     kinds: tuple[str, ...] | None = None, visit: int | None = None,
                     criterion: str | None = None, ids: list[int] | None = None) -> int:
    """Pending occurrences become cancelled, with the reason; never deleted.

    The dedupe key is freed (suffixed) so the same occurrence can be scheduled again later,
    e.g. a deadline moved away and back.
    """
    # Runs on every phase change, so plain SQL through rawsql (see rawsql.py for why).
    sql = ("UPDATE reminder SET status = 'cancelled', reason = :reason, updated_at = :now, "
           "dedupe = dedupe || '#cancelled-' || CAST(id AS TEXT) "
           "WHERE aanpak_id = :aanpak_id AND status = 'pending'")
    params: dict[str, Any] = {"reason": reason, "now": rawsql.moment(conn, now), "aanpak_id": aanpak_id}
    if kinds is not None:
        sql += " AND kind IN (" + ", ".join(f":k{i}" for i in range(len(kinds))) + ")"
        params.update({f"k{i}": k for i, k in enumerate(kinds)})
    if visit is not None:
        sql += " AND visit = :visit"
        params["visit"] = visit
    if criterion is not None:
        sql += " AND criterion = :criterion"
        params["criterion"] = criterion
    if ids is not None:
        if not ids:
            return 0
        sql += " AND id IN (" + ", ".join(f":i{n}" for n in range(len(ids))) + ")"
        params.update({f"i{n}": i for n, i in enumerate(ids)})
    return rawsql.write(conn, sql, **params)


def pending_reminders(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return list(conn.execute(sa.select(reminder_t).where(
        reminder_t.c.aanpak_id == aanpak_id, reminder_t.c.status == "pending").order_by(reminder_t.c.due_at)))


def due_reminders(conn: sa.Connection, now: datetime, limit: int = 500) -> list[Row]:
    return list(conn.execute(sa.select(reminder_t).where(
        reminder_t.c.status == "pending", reminder_t.c.due_at <= now)
        .order_by(reminder_t.c.due_at, reminder_t.c.id).limit(limit)))


def claim_reminder(conn: sa.Connection, reminder_id: int, now: datetime) -> bool:
    return conn.execute(reminder_t.update().where(
        reminder_t.c.id == reminder_id, reminder_t.c.status == "pending")
        .values(status="queued", updated_at=now)).rowcount == 1


def settle_reminder(conn: sa.Connection, reminder_id: int, *, status: str, reason: str | None,
                    now: datetime) -> None:
    conn.execute(reminder_t.update().where(reminder_t.c.id == reminder_id).values(
        status=status, reason=reason, updated_at=now,
        dedupe=reminder_t.c.dedupe + "#" + status + "-" + sa.cast(reminder_t.c.id, sa.String)))


def insert_message(conn: sa.Connection, **values: Any) -> None:
    # One per recipient on every fan-out: plain SQL through rawsql (see rawsql.py for why).
    names = sorted(values)
    rawsql.write(conn, f"INSERT INTO reminder_message ({', '.join(names)}) VALUES "
                       f"({', '.join(':' + n for n in names)})",
                 **{n: rawsql.moment(conn, v) if isinstance(v, datetime) else v for n, v in values.items()})


def claimable_messages(conn: sa.Connection, now: datetime, stale_before: datetime, limit: int) -> list[int]:
    """Pending messages whose (re)try time has come, and claims left behind by a crashed sweep."""
    rows = conn.execute(sa.select(message_t.c.id).where(sa.or_(
        sa.and_(message_t.c.status == "pending", message_t.c.next_attempt_at <= now),
        sa.and_(message_t.c.status == "sending", message_t.c.claimed_at < stale_before)))
        .order_by(message_t.c.next_attempt_at, message_t.c.id).limit(limit))
    return [r.id for r in rows]


def claim_message(conn: sa.Connection, message_id: int, *, token: str, now: datetime,
                  stale_before: datetime) -> bool:
    return conn.execute(message_t.update().where(
        message_t.c.id == message_id,
        sa.or_(sa.and_(message_t.c.status == "pending", message_t.c.next_attempt_at <= now),
               sa.and_(message_t.c.status == "sending", message_t.c.claimed_at < stale_before)))
        .values(status="sending", claimed_by=token, claimed_at=now,
                attempts=message_t.c.attempts + 1)).rowcount == 1


def message_rows(conn: sa.Connection, ids: list[int]) -> list[Row]:
    if not ids:
        return []
    return list(conn.execute(
        sa.select(message_t, reminder_t.c.aanpak_id, reminder_t.c.rule, reminder_t.c.kind,
                  reminder_t.c.criterion, reminder_t.c.deadline, reminder_t.c.due_at, reminder_t.c.phase,
                  reminder_t.c.visit)
        .join(reminder_t, reminder_t.c.id == message_t.c.reminder_id)
        .where(message_t.c.id.in_(ids)).order_by(message_t.c.id)))


def finish_message(conn: sa.Connection, message_id: int, *, token: str, status: str, now: datetime,
                   error: str | None = None, next_attempt_at: datetime | None = None) -> bool:
    """Record the outcome, only if this sweep still holds the claim."""
    # Once per message sent: plain SQL through rawsql (see rawsql.py for why).
    sql = "UPDATE reminder_message SET status = :status, error = :error, claimed_by = NULL"
    params: dict[str, Any] = {"status": status, "error": error, "id": message_id, "token": token}
    if status == "sent":
        sql += ", sent_at = :sent_at"
        params["sent_at"] = rawsql.moment(conn, now)
    if next_attempt_at is not None:
        sql += ", next_attempt_at = :next_attempt_at"
        params["next_attempt_at"] = rawsql.moment(conn, next_attempt_at)
    sql += " WHERE id = :id AND claimed_by = :token AND status = 'sending'"
    return rawsql.write(conn, sql, **params) == 1


def reminder_overview(conn: sa.Connection, *, status: tuple[str, ...] | None = None,
                      due_before: datetime | None = None) -> list[Row]:
    """Occurrences with their messages (outer join: pending and cancelled ones have none)."""
    query = (sa.select(reminder_t.c.id.label("reminder_id"), reminder_t.c.aanpak_id, reminder_t.c.rule,
                       reminder_t.c.kind, reminder_t.c.criterion, reminder_t.c.due_at,
                       reminder_t.c.status.label("reminder_status"), reminder_t.c.reason,
                       message_t.c.id.label("message_pk"), message_t.c.person_id, message_t.c.role,
                       message_t.c.status.label("message_status"), message_t.c.attempts,
                       message_t.c.next_attempt_at, message_t.c.error, message_t.c.sent_at,
                       message_t.c.message_id, aanpak_t.c.slug)
             .select_from(reminder_t.outerjoin(message_t, message_t.c.reminder_id == reminder_t.c.id)
                          .join(aanpak_t, aanpak_t.c.id == reminder_t.c.aanpak_id)))
    if due_before is not None:
        query = query.where(reminder_t.c.due_at <= due_before)
    return [r for r in conn.execute(query.order_by(reminder_t.c.due_at, reminder_t.c.id, message_t.c.id))
            if status is None or (r.message_status or r.reminder_status) in status]


def next_wake(conn: sa.Connection) -> datetime | None:
    """The earliest moment anything in the outbox or the schedule falls due."""
    a = conn.execute(sa.select(sa.func.min(reminder_t.c.due_at)).where(reminder_t.c.status == "pending")).scalar()
    b = conn.execute(sa.select(sa.func.min(message_t.c.next_attempt_at))
                     .where(message_t.c.status == "pending")).scalar()
    from .models import UTCDateTime

    conv = UTCDateTime().process_result_value
    found = [conv(v, conn.dialect) for v in (a, b) if v is not None]
    return min(found) if found else None


# --- several schedulers, one database (issue 6) ------------------------------------------
# Each sweep claims a batch with one conditional UPDATE (the WHERE is re-checked row by row,
# so two sweeps never hold the same message). On PostgreSQL the candidates are first locked
# with FOR UPDATE SKIP LOCKED, so concurrent sweeps take disjoint batches instead of queueing
# behind each other's row locks; SQLite serialises writers (BEGIN IMMEDIATE) and needs neither.
# A claim is a lease: `claimed_at` older than the lease means the claiming node died.


def _skip_locked(conn: sa.Connection, query: Any) -> Any:
    return query.with_for_update(skip_locked=True) if conn.dialect.name == "postgresql" else query


def lock_due_reminders(conn: sa.Connection, now: datetime, limit: int) -> list[Row]:
    """Due pending occurrences for fan-out, skipping those another sweep is fanning out (PostgreSQL)."""
    return list(conn.execute(_skip_locked(conn, sa.select(reminder_t).where(
        reminder_t.c.status == "pending", reminder_t.c.due_at <= now)
        .order_by(reminder_t.c.due_at, reminder_t.c.id).limit(limit))))


def _claimable(now: datetime, lease_expired_before: datetime) -> Any:
    return sa.or_(sa.and_(message_t.c.status == "pending", message_t.c.next_attempt_at <= now),
                  sa.and_(message_t.c.status == "sending", message_t.c.claimed_at < lease_expired_before))


def claim_messages(conn: sa.Connection, *, now: datetime, lease_expired_before: datetime, token: str,
                   limit: int) -> list[int]:
    """Claim up to `limit` due messages (and claims whose lease ran out) for `token`; their ids."""
    candidates = [r.id for r in conn.execute(_skip_locked(conn, sa.select(message_t.c.id).where(
        _claimable(now, lease_expired_before)).order_by(message_t.c.next_attempt_at, message_t.c.id).limit(limit)))]
    if not candidates:
        return []
    conn.execute(message_t.update().where(message_t.c.id.in_(candidates), _claimable(now, lease_expired_before))
                 .values(status="sending", claimed_by=token, claimed_at=now, attempts=message_t.c.attempts + 1))
    return held_claims(conn, candidates, token)


def held_claims(conn: sa.Connection, ids: list[int], token: str) -> list[int]:
    return [r.id for r in conn.execute(sa.select(message_t.c.id).where(
        message_t.c.id.in_(ids), message_t.c.claimed_by == token, message_t.c.status == "sending")
        .order_by(message_t.c.id))]


def renew_claims(conn: sa.Connection, ids: list[int], *, token: str, now: datetime) -> set[int]:
    """Extend the lease on the messages this sweep still holds; returns those (others were taken over)."""
    if not ids:
        return set()
    conn.execute(message_t.update().where(message_t.c.id.in_(ids), message_t.c.claimed_by == token,
                                          message_t.c.status == "sending").values(claimed_at=now))
    return set(held_claims(conn, ids, token))


# --- large portfolios: streamed listing (issue 6) ------------------------------------------


def stream_aanpakken(conn: sa.Connection, *, phase: str | None = None, wijk: str | None = None,
                     gemeente: str | None = None) -> Iterator[Row]:
    """list_aanpakken, fetched in batches: memory stays flat however large the portfolio."""
    yield from conn.execution_options(yield_per=STREAM_BATCH).execute(
        _aanpakken_query(phase=phase, wijk=wijk, gemeente=gemeente))


def count_aanpakken(conn: sa.Connection, *, phase: str | None = None, wijk: str | None = None,
                    gemeente: str | None = None) -> int:
    inner = _aanpakken_query(phase=phase, wijk=wijk, gemeente=gemeente).order_by(None).subquery()
    return conn.execute(sa.select(sa.func.count()).select_from(inner)).scalar_one()


# --- audit export at scale (issue 6) -------------------------------------------------------
# The same filters as query_events, as plain SQL for rawsql.stream: a CSV export of millions of
# events spends its time writing rows, not building SQLAlchemy rows.

AUDIT_EXPORT_COLUMNS = ("id", "at", "type", "actor_id", "from_phase", "to_phase", "reason", "evidence", "payload",
                        "prev_hash", "hash", "slug", "wijk", "gemeente")


def audit_export_sql(conn: sa.Connection, *, aanpak_id: int | None = None, wijk: str | None = None,
                     gemeente: str | None = None, phase: str | None = None, actor_id: int | None = None,
                     types: tuple[str, ...] = (), since: datetime | None = None, until: datetime | None = None,
                     count: bool = False) -> tuple[str, dict[str, Any]]:
    """(SQL, parameters) selecting AUDIT_EXPORT_COLUMNS in chain order, or counting them."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if aanpak_id is not None:
        where.append("e.aanpak_id = :aanpak_id")
        params["aanpak_id"] = aanpak_id
    if wijk:
        where.append("lower(a.wijk) = :wijk")
        params["wijk"] = wijk.lower()
    if gemeente:
        where.append("lower(a.gemeente) = :gemeente")
        params["gemeente"] = gemeente.lower()
    if phase:
        where.append("(e.from_phase = :phase OR e.to_phase = :phase)")
        params["phase"] = phase
    if actor_id is not None:
        where.append("e.actor_id = :actor_id")
        params["actor_id"] = actor_id
    if types:
        where.append("e.type IN (" + ", ".join(f":type{i}" for i in range(len(types))) + ")")
        params.update({f"type{i}": t for i, t in enumerate(types)})
    if since is not None:
        where.append("e.at >= :since")
        params["since"] = rawsql.moment(conn, since)
    if until is not None:
        where.append("e.at < :until")
        params["until"] = rawsql.moment(conn, until)
    columns = "count(*)" if count else ", ".join(
        f"a.{c}" if c in ("slug", "wijk", "gemeente") else f"e.{c}" for c in AUDIT_EXPORT_COLUMNS)
    sql = f"SELECT {columns} FROM audit_event e LEFT OUTER JOIN aanpak a ON a.id = e.aanpak_id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return sql + ("" if count else " ORDER BY e.id"), params


# --- audit: verification, queries, history replay (issue 4) ---------------------------

STREAM_BATCH = 2000


def stream_chain(conn: sa.Connection) -> Iterator[Row]:
    """Every event in chain order, fetched in batches (a server-side cursor on PostgreSQL)."""
    yield from conn.execution_options(yield_per=STREAM_BATCH).execute(sa.select(event_t).order_by(event_t.c.id))


def event_id_by_hash(conn: sa.Connection, hash_: str) -> int | None:
    """Which event carries this hash (a full scan: only used to explain a broken chain)."""
    return conn.execute(sa.select(event_t.c.id).where(event_t.c.hash == hash_).limit(1)).scalar()


def chain_head(conn: sa.Connection) -> Row | None:
    return conn.execute(sa.select(event_t.c.id, event_t.c.at, event_t.c.hash)
                        .order_by(event_t.c.id.desc()).limit(1)).first()


def query_events(conn: sa.Connection, *, aanpak_id: int | None = None, wijk: str | None = None,
                 gemeente: str | None = None, phase: str | None = None, actor_id: int | None = None,
                 types: tuple[str, ...] = (), since: datetime | None = None,
                 until: datetime | None = None) -> Iterator[Row]:
    """Events matching every filter given, in chain order, streamed in batches."""
    query = (sa.select(event_t, aanpak_t.c.slug.label("aanpak_slug"), aanpak_t.c.name.label("aanpak_name"),
                       aanpak_t.c.wijk.label("aanpak_wijk"), aanpak_t.c.gemeente.label("aanpak_gemeente"))
             .select_from(event_t.outerjoin(aanpak_t, aanpak_t.c.id == event_t.c.aanpak_id)))
    if aanpak_id is not None:
        query = query.where(event_t.c.aanpak_id == aanpak_id)
    if wijk:
        query = query.where(sa.func.lower(aanpak_t.c.wijk) == wijk.lower())
    if gemeente:
        query = query.where(sa.func.lower(aanpak_t.c.gemeente) == gemeente.lower())
    if phase:
        query = query.where(sa.or_(event_t.c.from_phase == phase, event_t.c.to_phase == phase))
    if actor_id is not None:
        query = query.where(event_t.c.actor_id == actor_id)
    if types:
        query = query.where(event_t.c.type.in_(types))
    if since is not None:
        query = query.where(event_t.c.at >= since)
    if until is not None:
        query = query.where(event_t.c.at < until)
    yield from conn.execution_options(yield_per=STREAM_BATCH).execute(query.order_by(event_t.c.id))


def event_types(conn: sa.Connection) -> set[str]:
    return set(conn.execute(sa.select(event_t.c.type).distinct()).scalars())


def wijk_exists(conn: sa.Connection, wijk: str) -> bool:
    return conn.execute(sa.select(aanpak_t.c.id).where(sa.func.lower(aanpak_t.c.wijk) == wijk.lower())
                        .limit(1)).first() is not None


def gemeente_exists(conn: sa.Connection, gemeente: str) -> bool:
    return conn.execute(sa.select(aanpak_t.c.id).where(sa.func.lower(aanpak_t.c.gemeente) == gemeente.lower())
                        .limit(1)).first() is not None


def all_people(conn: sa.Connection) -> dict[int, Row]:
    """Everyone, by id: far fewer people than events, so a lookup table is fine."""
    return {r.id: r for r in conn.execute(sa.select(person_t))}


def any_admin(conn: sa.Connection) -> bool:
    return conn.execute(sa.select(person_t.c.id).where(person_t.c.role == "admin").limit(1)).first() is not None


def definition_id_by_version(conn: sa.Connection, name: str, version: int) -> int | None:
    return conn.execute(sa.select(definition_t.c.id).where(
        definition_t.c.name == name, definition_t.c.version == version)).scalar()


def phase_events(conn: sa.Connection, aanpak_ids: list[int] | None = None) -> Iterator[Row]:
    """Creation and phase changes, grouped by aanpak in time order: the input of phase statistics."""
    query = (sa.select(event_t.c.id, event_t.c.aanpak_id, event_t.c.at, event_t.c.type, event_t.c.from_phase,
                       event_t.c.to_phase, event_t.c.payload)
             .where(event_t.c.type.in_(("aanpak_created", "phase_changed")), event_t.c.aanpak_id.is_not(None)))
    if aanpak_ids is not None:
        query = query.where(event_t.c.aanpak_id.in_(aanpak_ids))
    yield from conn.execution_options(yield_per=STREAM_BATCH).execute(
        query.order_by(event_t.c.aanpak_id, event_t.c.id))


def events_until(conn: sa.Connection, aanpak_id: int, until: datetime) -> list[Row]:
    return list(conn.execute(sa.select(event_t).where(event_t.c.aanpak_id == aanpak_id, event_t.c.at < until)
                             .order_by(event_t.c.id)))


def overdue_reminders(conn: sa.Connection, aanpak_id: int, now: datetime) -> int:
    """How many of this aanpak's reminders fell due and have not gone out to everyone.

    Still waiting for a sweep (pending), or fanned out with a message that is not sent yet
    (pending, being sent, or failed).
    """
    return rawsql.first(
        conn, "SELECT count(DISTINCT r.id) AS n FROM reminder r "
              "LEFT JOIN reminder_message m ON m.reminder_id = r.id AND m.status IN ('pending', 'sending', 'failed') "
              "WHERE r.aanpak_id = :aanpak_id AND r.due_at <= :now "
              "AND (r.status = 'pending' OR (r.status = 'queued' AND m.id IS NOT NULL))",
        aanpak_id=aanpak_id, now=rawsql.moment(conn, now)).n


def secure_delete(conn: sa.Connection) -> None:
    """SQLite: overwrite freed row space with zeros from now on, so an erased name leaves no bytes behind."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete=ON")


def checkpoint(db: Any) -> bool:
    """SQLite: copy the write-ahead log into the database file and empty it.

    True when the log is empty afterwards; False if a reader still holds an old snapshot
    (run `wijkflow people forget` again later, or `sqlite3 FILE 'PRAGMA wal_checkpoint(TRUNCATE)'`).
    Other databases: True (PostgreSQL keeps dead row versions until VACUUM; see README).
    """
    if not db.is_sqlite or db.path is None:
        return True
    raw = db.engine.raw_connection()
    try:
        busy, _log, _done = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0
    finally:
        raw.close()
