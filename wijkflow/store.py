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

Row = sa.Row[Any]


class _Tables:
    """The SQLModel tables, as SQLAlchemy Core tables, built on first use.

    Importing wijkflow.models builds every SQLModel class (pydantic schemas and ORM mappers):
    a quarter of a second, a third of what a read command like `wijkflow show` costs. The
    statements those commands run are plain SQL (rawsql), so they never pay it.
    """

    _CLASSES = {"person": "Person", "definition": "WorkflowDefinition", "aanpak": "Aanpak", "role": "AanpakRole",
                "record": "CriterionRecord", "deadline": "CriterionDeadline", "indicator": "Indicator",
                "measurement": "Measurement", "event": "AuditEvent", "reminder": "Reminder",
                "message": "ReminderMessage", "interpretation": "Interpretation", "plan_point": "PlanPoint",
                "plan_partner": "PlanPartner", "activity": "PlanActivity", "theme": "AanpakTheme",
                "result": "IntendedResult", "party": "PartyApproval"}

    def __getattr__(self, name: str) -> sa.Table:
        if name not in self._CLASSES:
            raise AttributeError(name)
        from . import models

        for key, cls in self._CLASSES.items():
            setattr(self, key, getattr(models, cls).__table__)  # later lookups are plain attributes
        return getattr(self, name)


T: Any = _Tables()

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
        T.person.insert().values(email=email, name=name, locale=locale, role=role, created_at=now)
    ).inserted_primary_key[0]


def list_people(conn: sa.Connection) -> list[Row]:
    return rawsql.rows(conn, "SELECT * FROM person ORDER BY id")


def erase_person(conn: sa.Connection, person_id: int, now: datetime) -> None:
    conn.execute(T.person.update().where(T.person.c.id == person_id)
                 .values(email=None, name=None, role=None, forgotten_at=now))


# --- definitions ----------------------------------------------------------------------

_definition_cache: dict[str, Definition] = {}


def pin_definition(conn: sa.Connection, d: Definition, now: datetime) -> int:
    """The id of the stored copy of this definition version, storing it the first time.

    A file edited without raising its version is refused: aanpakken already pinned to
    that version must keep the rules they started with.
    """
    digest = d.content_hash()
    row = conn.execute(sa.select(T.definition.c.id, T.definition.c.hash).where(
        T.definition.c.name == d.name, T.definition.c.version == d.version)).first()
    if row is not None:
        if row.hash != digest:
            raise InvalidInput(
                f"Workflow '{d.name}' version {d.version} was changed after aanpakken started on it; "
                f"give the changed definition a new version number (e.g. {d.version + 1}).")
        return row.id
    return conn.execute(T.definition.insert().values(
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
    return rawsql.rows(conn, "SELECT * FROM workflow_definition ORDER BY name, version")


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
    return conn.execute(sa.select(T.aanpak.c.id).where(T.aanpak.c.slug == slug)).first() is not None


def insert_aanpak(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(T.aanpak.insert().values(**values)).inserted_primary_key[0]


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


def move_to_definition(conn: sa.Connection, aanpak_id: int, *, definition_id: int, phase: str,
                       now: datetime) -> None:
    """`wijkflow migrate`: the aanpak follows a new definition version (same visit, same phase_since)."""
    conn.execute(T.aanpak.update().where(T.aanpak.c.id == aanpak_id).values(
        definition_id=definition_id, phase=phase, version=T.aanpak.c.version + 1, updated_at=now))


def touch_aanpak(conn: sa.Connection, aanpak_id: int, now: datetime) -> None:
    rawsql.write(conn, "UPDATE aanpak SET updated_at = :now WHERE id = :id", now=rawsql.moment(conn, now),
                 id=aanpak_id)


def list_aanpakken(conn: sa.Connection, *, phase: str | None = None, wijk: str | None = None,
                   gemeente: str | None = None) -> list[Row]:
    sql, params = _aanpakken_sql(phase=phase, wijk=wijk, gemeente=gemeente)
    return rawsql.rows(conn, sql + " ORDER BY a.id", **params)


def _where_place(where: list[str], params: dict[str, Any], *, wijk: str | None, gemeente: str | None) -> None:
    """The --wijk / --gemeente filters on aanpak `a`, case-insensitive (list and audit query alike)."""
    if wijk:
        where.append("lower(a.wijk) = :wijk")
        params["wijk"] = wijk.lower()
    if gemeente:
        where.append("lower(a.gemeente) = :gemeente")
        params["gemeente"] = gemeente.lower()


_AANPAK_COLUMNS = "a.*, d.name AS workflow, d.version AS workflow_version"


def _aanpakken_sql(*, phase: str | None, wijk: str | None, gemeente: str | None,
                   columns: str = _AANPAK_COLUMNS) -> tuple[str, dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if phase:
        where.append("a.phase = :phase")
        params["phase"] = phase
    _where_place(where, params, wijk=wijk, gemeente=gemeente)
    sql = f"SELECT {columns} FROM aanpak a JOIN workflow_definition d ON d.id = a.definition_id"
    return sql + (" WHERE " + " AND ".join(where) if where else ""), params


# --- roles ----------------------------------------------------------------------------


def roles(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return rawsql.rows(conn, "SELECT role, person_id FROM aanpak_role WHERE aanpak_id = :id ORDER BY id",
                       id=aanpak_id)


def add_role(conn: sa.Connection, aanpak_id: int, person_id: int, role: str) -> bool:
    exists = conn.execute(sa.select(T.role.c.id).where(
        T.role.c.aanpak_id == aanpak_id, T.role.c.person_id == person_id, T.role.c.role == role)).first()
    if exists:
        return False
    conn.execute(T.role.insert().values(aanpak_id=aanpak_id, person_id=person_id, role=role))
    return True


# --- criteria -------------------------------------------------------------------------


def records(conn: sa.Connection, aanpak_id: int, visit: int) -> list[Row]:
    """Records of this visit, plus the aanpak-wide ones (stored as visit 0)."""
    return rawsql.rows(conn, "SELECT * FROM criterion_record WHERE aanpak_id = :id AND visit IN (0, :visit) "
                             "ORDER BY id", id=aanpak_id, visit=visit)


def insert_record(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(T.record.insert().values(**values)).inserted_primary_key[0]


def set_deadline(conn: sa.Connection, aanpak_id: int, criterion: str, due: date) -> date | None:
    old = conn.execute(sa.select(T.deadline.c.due).where(
        T.deadline.c.aanpak_id == aanpak_id, T.deadline.c.criterion == criterion)).scalar()
    if old is None:
        conn.execute(T.deadline.insert().values(aanpak_id=aanpak_id, criterion=criterion, due=due))
    else:
        conn.execute(T.deadline.update().where(
            T.deadline.c.aanpak_id == aanpak_id, T.deadline.c.criterion == criterion).values(due=due))
    return old


def deadlines(conn: sa.Connection, aanpak_id: int) -> dict[str, date]:
    rows = rawsql.rows(conn, "SELECT criterion, due FROM criterion_deadline WHERE aanpak_id = :id", id=aanpak_id)
    return {r.criterion: r.due for r in rows}


# --- indicators -----------------------------------------------------------------------


def indicators(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return rawsql.rows(conn, "SELECT * FROM indicator WHERE aanpak_id = :id ORDER BY id", id=aanpak_id)


def indicator(conn: sa.Connection, aanpak_id: int, key: str) -> Row | None:
    return conn.execute(sa.select(T.indicator).where(
        T.indicator.c.aanpak_id == aanpak_id, T.indicator.c.key == key)).first()


def insert_indicator(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(T.indicator.insert().values(**values)).inserted_primary_key[0]


def measurements(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return rawsql.rows(conn, "SELECT m.*, i.key FROM measurement m JOIN indicator i ON i.id = m.indicator_id "
                             "WHERE i.aanpak_id = :id ORDER BY m.measured_on, m.id", id=aanpak_id)


def insert_measurement(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(T.measurement.insert().values(**values)).inserted_primary_key[0]


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
    """The events (of one aanpak, or all), oldest first, fetched in batches."""
    if aanpak_id is None:
        yield from rawsql.stream_rows(conn, "SELECT * FROM audit_event ORDER BY id")
    else:
        yield from rawsql.stream_rows(conn, "SELECT * FROM audit_event WHERE aanpak_id = :id ORDER BY id",
                                      id=aanpak_id)


def count_events(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(T.event)).scalar_one()


# --- programmes: interpretations, wijkontwikkelingsplan, themes, multi-party sign-off --------


def indicator_facts(conn: sa.Connection, aanpak_id: int) -> list[tuple[Row, list[Row]]]:
    """Each indicator with its measurements, oldest first."""
    ms = measurements(conn, aanpak_id)
    return [(i, [m for m in ms if m.key == i.key]) for i in indicators(conn, aanpak_id)]


def insert_interpretation(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(T.interpretation.insert().values(**values)).inserted_primary_key[0]


def interpretations(conn: sa.Connection, aanpak_id: int, visit: int | None = None) -> list[Row]:
    if visit is None:
        return rawsql.rows(conn, "SELECT * FROM interpretation WHERE aanpak_id = :id ORDER BY id", id=aanpak_id)
    return rawsql.rows(conn, "SELECT * FROM interpretation WHERE aanpak_id = :id AND visit = :visit ORDER BY id",
                       id=aanpak_id, visit=visit)


def insert_plan_point(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(T.plan_point.insert().values(**values)).inserted_primary_key[0]


def plan_points(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return rawsql.rows(conn, "SELECT * FROM plan_point WHERE aanpak_id = :id ORDER BY id", id=aanpak_id)


def plan_partners(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return rawsql.rows(conn, "SELECT * FROM plan_partner WHERE aanpak_id = :id ORDER BY id", id=aanpak_id)


def insert_plan_partner(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(T.plan_partner.insert().values(**values)).inserted_primary_key[0]


def activities(conn: sa.Connection, aanpak_id: int) -> list[Row]:
    return rawsql.rows(conn, "SELECT * FROM plan_activity WHERE aanpak_id = :id ORDER BY number", id=aanpak_id)


def activity(conn: sa.Connection, aanpak_id: int, number: int) -> Row | None:
    return conn.execute(sa.select(T.activity).where(T.activity.c.aanpak_id == aanpak_id,
                                                    T.activity.c.number == number)).first()


def insert_activity(conn: sa.Connection, **values: Any) -> int:
    """Numbers activities 1, 2, ... per aanpak; the write transaction serialises the numbering."""
    last = conn.execute(sa.select(sa.func.max(T.activity.c.number))
                        .where(T.activity.c.aanpak_id == values["aanpak_id"])).scalar()
    number = (last or 0) + 1
    conn.execute(T.activity.insert().values(number=number, **values))
    return number


def update_activity(conn: sa.Connection, activity_id: int, **values: Any) -> None:
    conn.execute(T.activity.update().where(T.activity.c.id == activity_id).values(**values))


def themes(conn: sa.Connection, aanpak_id: int) -> list[tuple[Row, list[Row]]]:
    rows = rawsql.rows(conn, "SELECT * FROM aanpak_theme WHERE aanpak_id = :id ORDER BY id", id=aanpak_id)
    if not rows:
        return []
    results = rawsql.rows(conn, "SELECT r.* FROM intended_result r JOIN aanpak_theme t ON t.id = r.theme_id "
                                "WHERE t.aanpak_id = :id ORDER BY r.id", id=aanpak_id)
    return [(t, [r for r in results if r.theme_id == t.id]) for t in rows]


def theme(conn: sa.Connection, aanpak_id: int, key: str) -> Row | None:
    return conn.execute(sa.select(T.theme).where(T.theme.c.aanpak_id == aanpak_id, T.theme.c.key == key)).first()


def insert_theme(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(T.theme.insert().values(**values)).inserted_primary_key[0]


def insert_intended_result(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(T.result.insert().values(**values)).inserted_primary_key[0]


def aanpak_ids_with_theme(conn: sa.Connection, key: str) -> set[int]:
    return set(conn.execute(sa.select(T.theme.c.aanpak_id).where(T.theme.c.key == key)).scalars())


def themes_by_aanpak(conn: sa.Connection) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for r in conn.execute(sa.select(T.theme.c.aanpak_id, T.theme.c.label).order_by(T.theme.c.id)):
        out.setdefault(r.aanpak_id, []).append(r.label)
    return out


def party_approvals(conn: sa.Connection, aanpak_id: int, visit: int) -> list[Row]:
    return rawsql.rows(conn, "SELECT * FROM party_approval WHERE aanpak_id = :id AND visit = :visit ORDER BY id",
                       id=aanpak_id, visit=visit)


def insert_party_approval(conn: sa.Connection, **values: Any) -> int:
    return conn.execute(T.party.insert().values(**values)).inserted_primary_key[0]


def update_indicator(conn: sa.Connection, indicator_id: int, **values: Any) -> None:
    conn.execute(T.indicator.update().where(T.indicator.c.id == indicator_id).values(**values))


# --- reminders ------------------------------------------------------------------------
# Occurrences (`reminder`) and the outbox (`reminder_message`). Claims are conditional
# UPDATEs whose rowcount says who won, so two sweeps on one database never take the same row.


def insert_reminder(conn: sa.Connection, **values: Any) -> int | None:
    """Schedule one occurrence; None when the same occurrence (dedupe key) is already there."""
    if conn.execute(sa.select(T.reminder.c.id).where(T.reminder.c.dedupe == values["dedupe"])).first():
        return None
    return conn.execute(T.reminder.insert().values(**values)).inserted_primary_key[0]


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
    return list(conn.execute(sa.select(T.reminder).where(
        T.reminder.c.aanpak_id == aanpak_id, T.reminder.c.status == "pending").order_by(T.reminder.c.due_at)))


def due_reminders(conn: sa.Connection, now: datetime, limit: int = 500) -> list[Row]:
    return list(conn.execute(sa.select(T.reminder).where(
        T.reminder.c.status == "pending", T.reminder.c.due_at <= now)
        .order_by(T.reminder.c.due_at, T.reminder.c.id).limit(limit)))


def claim_reminders(conn: sa.Connection, reminder_ids: list[int], now: datetime) -> set[int]:
    """pending -> queued for a fan-out batch, in one statement; the ids this transaction took."""
    if not reminder_ids:
        return set()
    return {r.id for r in conn.execute(T.reminder.update().where(
        T.reminder.c.id.in_(reminder_ids), T.reminder.c.status == "pending")
        .values(status="queued", updated_at=now).returning(T.reminder.c.id))}


def settle_reminder(conn: sa.Connection, reminder_id: int, *, status: str, reason: str | None,
                    now: datetime) -> None:
    conn.execute(T.reminder.update().where(T.reminder.c.id == reminder_id).values(
        status=status, reason=reason, updated_at=now,
        dedupe=T.reminder.c.dedupe + "#" + status + "-" + sa.cast(T.reminder.c.id, sa.String)))


def insert_message(conn: sa.Connection, **values: Any) -> None:
    # One per recipient on every fan-out: plain SQL through rawsql (see rawsql.py for why).
    names = sorted(values)
    rawsql.write(conn, f"INSERT INTO reminder_message ({', '.join(names)}) VALUES "
                       f"({', '.join(':' + n for n in names)})",
                 **{n: rawsql.moment(conn, v) if isinstance(v, datetime) else v for n, v in values.items()})


def claimable_messages(conn: sa.Connection, now: datetime, stale_before: datetime, limit: int) -> list[int]:
    """Pending messages whose (re)try time has come, and claims left behind by a crashed sweep."""
    rows = conn.execute(sa.select(T.message.c.id).where(sa.or_(
        sa.and_(T.message.c.status == "pending", T.message.c.next_attempt_at <= now),
        sa.and_(T.message.c.status == "sending", T.message.c.claimed_at < stale_before)))
        .order_by(T.message.c.next_attempt_at, T.message.c.id).limit(limit))
    return [r.id for r in rows]


def claim_message(conn: sa.Connection, message_id: int, *, token: str, now: datetime,
                  stale_before: datetime) -> bool:
    return conn.execute(T.message.update().where(
        T.message.c.id == message_id,
        sa.or_(sa.and_(T.message.c.status == "pending", T.message.c.next_attempt_at <= now),
               sa.and_(T.message.c.status == "sending", T.message.c.claimed_at < stale_before)))
        .values(status="sending", claimed_by=token, claimed_at=now,
                attempts=T.message.c.attempts + 1)).rowcount == 1


def message_rows(conn: sa.Connection, ids: list[int]) -> list[Row]:
    if not ids:
        return []
    return list(conn.execute(
        sa.select(T.message, T.reminder.c.aanpak_id, T.reminder.c.rule, T.reminder.c.kind,
                  T.reminder.c.criterion, T.reminder.c.deadline, T.reminder.c.due_at, T.reminder.c.phase,
                  T.reminder.c.visit)
        .join(T.reminder, T.reminder.c.id == T.message.c.reminder_id)
        .where(T.message.c.id.in_(ids)).order_by(T.message.c.id)))


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
    query = (sa.select(T.reminder.c.id.label("reminder_id"), T.reminder.c.aanpak_id, T.reminder.c.rule,
                       T.reminder.c.kind, T.reminder.c.criterion, T.reminder.c.due_at,
                       T.reminder.c.status.label("reminder_status"), T.reminder.c.reason,
                       T.message.c.id.label("message_pk"), T.message.c.person_id, T.message.c.role,
                       T.message.c.status.label("message_status"), T.message.c.attempts,
                       T.message.c.next_attempt_at, T.message.c.error, T.message.c.sent_at,
                       T.message.c.message_id, T.aanpak.c.slug)
             .select_from(T.reminder.outerjoin(T.message, T.message.c.reminder_id == T.reminder.c.id)
                          .join(T.aanpak, T.aanpak.c.id == T.reminder.c.aanpak_id)))
    if due_before is not None:
        query = query.where(T.reminder.c.due_at <= due_before)
    return [r for r in conn.execute(query.order_by(T.reminder.c.due_at, T.reminder.c.id, T.message.c.id))
            if status is None or (r.message_status or r.reminder_status) in status]


def next_wake(conn: sa.Connection) -> datetime | None:
    """The earliest moment anything in the outbox or the schedule falls due."""
    a = conn.execute(sa.select(sa.func.min(T.reminder.c.due_at)).where(T.reminder.c.status == "pending")).scalar()
    b = conn.execute(sa.select(sa.func.min(T.message.c.next_attempt_at))
                     .where(T.message.c.status == "pending")).scalar()
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
    return list(conn.execute(_skip_locked(conn, sa.select(T.reminder).where(
        T.reminder.c.status == "pending", T.reminder.c.due_at <= now)
        .order_by(T.reminder.c.due_at, T.reminder.c.id).limit(limit))))


def _claimable(now: datetime, lease_expired_before: datetime) -> Any:
    return sa.or_(sa.and_(T.message.c.status == "pending", T.message.c.next_attempt_at <= now),
                  sa.and_(T.message.c.status == "sending", T.message.c.claimed_at < lease_expired_before))


def claim_messages(conn: sa.Connection, *, now: datetime, lease_expired_before: datetime, token: str,
                   limit: int) -> list[int]:
    """Claim up to `limit` due messages (and claims whose lease ran out) for `token`; their ids."""
    candidates = [r.id for r in conn.execute(_skip_locked(conn, sa.select(T.message.c.id).where(
        _claimable(now, lease_expired_before)).order_by(T.message.c.next_attempt_at, T.message.c.id).limit(limit)))]
    if not candidates:
        return []
    conn.execute(T.message.update().where(T.message.c.id.in_(candidates), _claimable(now, lease_expired_before))
                 .values(status="sending", claimed_by=token, claimed_at=now, attempts=T.message.c.attempts + 1))
    return held_claims(conn, candidates, token)


def held_claims(conn: sa.Connection, ids: list[int], token: str) -> list[int]:
    return [r.id for r in conn.execute(sa.select(T.message.c.id).where(
        T.message.c.id.in_(ids), T.message.c.claimed_by == token, T.message.c.status == "sending")
        .order_by(T.message.c.id))]


def renew_claims(conn: sa.Connection, ids: list[int], *, token: str, now: datetime) -> set[int]:
    """Extend the lease on the messages this sweep still holds; returns those (others were taken over)."""
    if not ids:
        return set()
    conn.execute(T.message.update().where(T.message.c.id.in_(ids), T.message.c.claimed_by == token,
                                          T.message.c.status == "sending").values(claimed_at=now))
    return set(held_claims(conn, ids, token))


# --- large portfolios: streamed listing (issue 6) ------------------------------------------


def stream_aanpakken(conn: sa.Connection, *, phase: str | None = None, wijk: str | None = None,
                     gemeente: str | None = None) -> Iterator[Row]:
    """list_aanpakken, fetched in batches: memory stays flat however large the portfolio."""
    sql, params = _aanpakken_sql(phase=phase, wijk=wijk, gemeente=gemeente)
    yield from rawsql.stream_rows(conn, sql + " ORDER BY a.id", STREAM_BATCH, **params)


def count_aanpakken(conn: sa.Connection, *, phase: str | None = None, wijk: str | None = None,
                    gemeente: str | None = None) -> int:
    sql, params = _aanpakken_sql(phase=phase, wijk=wijk, gemeente=gemeente, columns="count(*) AS n")
    return int(rawsql.first(conn, sql, **params).n)


# --- audit export at scale (issue 6) -------------------------------------------------------
# The same filters as query_events, as plain SQL for rawsql.stream: a CSV export of millions of
# events spends its time writing rows, not building SQLAlchemy rows.

AUDIT_EXPORT_COLUMNS = ("id", "at", "type", "actor_id", "from_phase", "to_phase", "reason", "evidence", "payload",
                        "prev_hash", "hash", "slug", "wijk", "gemeente")


def audit_export_sql(conn: sa.Connection, *, count: bool = False, **filters: Any) -> tuple[str, dict[str, Any]]:
    """(SQL, parameters) selecting AUDIT_EXPORT_COLUMNS in chain order, or counting them."""
    where, params = _audit_export_where(conn, **filters)
    columns = "count(*)" if count else ", ".join(
        f"a.{c}" if c in ("slug", "wijk", "gemeente") else f"e.{c}" for c in AUDIT_EXPORT_COLUMNS)
    sql = f"SELECT {columns} FROM audit_event e LEFT OUTER JOIN aanpak a ON a.id = e.aanpak_id" + where
    return sql + ("" if count else " ORDER BY e.id"), params


def _audit_export_where(conn: sa.Connection, *, aanpak_id: int | None = None, wijk: str | None = None,
                        gemeente: str | None = None, phase: str | None = None, actor_id: int | None = None,
                        types: tuple[str, ...] = (), since: datetime | None = None,
                        until: datetime | None = None, id_from: int | None = None,
                        id_to: int | None = None) -> tuple[str, dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if id_from is not None:  # a block of the chain, [id_from, id_to)
        where.append("e.id >= :id_from AND e.id < :id_to")
        params.update({"id_from": id_from, "id_to": id_to})
    if aanpak_id is not None:
        where.append("e.aanpak_id = :aanpak_id")
        params["aanpak_id"] = aanpak_id
    _where_place(where, params, wijk=wijk, gemeente=gemeente)
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
    return (" WHERE " + " AND ".join(where) if where else ""), params


def audit_ends(conn: sa.Connection) -> tuple[Any, Any, Any, Any]:
    """(id, at) of the first and of the last event in chain order (two index look-ups, no scan)."""
    first = conn.exec_driver_sql("SELECT id, at FROM audit_event ORDER BY id LIMIT 1").first()
    last = conn.exec_driver_sql("SELECT id, at FROM audit_event ORDER BY id DESC LIMIT 1").first()
    return (first[0], first[1], last[0], last[1]) if first and last else (None, None, None, None)


def audit_csv_lines_sql(conn: sa.Connection, *, offsets: list[tuple[Any, int, str]], window: tuple[Any, Any],
                        **filters: Any) -> tuple[str, dict[str, Any]]:
    """(SQL, parameters) giving each event of audit_export_sql as one finished CSV line.

    Each line is exactly what csv.writer(lineterminator="\\n") writes for the event's QUERY_CSV
    row (QUOTE_MINIMAL: a field holding a comma, a quote or a newline is quoted, quotes doubled;
    NULL is an empty cell), so SQLite's C code does per event what Python did per field.
    `offsets` are (from this UTC hour 'YYYY-MM-DD HH' on, offset in seconds, '+01:00'), oldest
    first (the first one's hour is not used): the local time per UTC hour, as services.audit_export
    computes it in Python. Events outside `window` (UTC hours, [from, to)) or stored in another time
    format, and the rare ones with a gate or an override in their payload, come back instead as a
    JSON array of their AUDIT_EXPORT_COLUMNS (starting with '['; a line starts with the id) for
    Python to write. On PostgreSQL the offsets start at exact moments and the window is two
    aware datetimes (_audit_csv_lines_postgresql).
    """
    where, params = _audit_export_where(conn, **filters)
    params.update({"win_from": window[0], "win_to": window[1]})
    if conn.dialect.name == "postgresql":
        return _audit_csv_lines_postgresql(offsets, where, params)

    def q(x: str) -> str:  # one CSV cell
        return (f"CASE WHEN instr({x}, ',') OR instr({x}, '\"') OR instr({x}, char(10)) "
                f"THEN '\"' || replace({x}, '\"', '\"\"') || '\"' ELSE coalesce({x}, '') END")

    whens = []
    for i, (hour, seconds, suffix) in enumerate(offsets):
        params[f"tz_from{i}"] = hour
        params[f"tz_fmt{i}"] = "%Y-%m-%dT%H:%M:%S" + suffix.replace("%", "%%")
        params[f"tz_mod{i}"] = f"{seconds:+d} seconds"
        # substr: no fraction of a second, which SQLite would round where Python truncates.
        local = f"strftime(:tz_fmt{i}, substr(e.at, 1, 19), :tz_mod{i})"
        whens.append(f"WHEN e.at >= :tz_from{i} THEN {local}" if i else f"ELSE {local}")
    at = "CASE " + " ".join(reversed(whens)) + " END" if len(whens) > 1 else whens[0][5:]
    # The few aanpakken and people have their cells made once (a materialised CTE, not per event).
    # person_ref: an erased person is '(forgotten person)' without an email, and so is a missing one.
    people = (f"p(id, cells) AS MATERIALIZED (SELECT id, CASE WHEN forgotten_at IS NOT NULL "
              f"THEN '(forgotten person),' ELSE {q('name')} || ',' || {q('email')} END FROM person)")
    aanpakken = (f"a(id, slug, wijk, gemeente, cells) AS MATERIALIZED (SELECT id, slug, wijk, gemeente, "
                 f"{q('slug')} || ',' || {q('wijk')} || ',' || {q('gemeente')} FROM aanpak)")
    places = "coalesce(a.cells, ',,')"
    actor = "CASE WHEN e.actor_id IS NULL THEN ',' ELSE coalesce(p.cells, '(forgotten person),') END"
    own = ["e.type", "e.from_phase", "e.to_phase", "e.reason", "e.evidence", "e.prev_hash", "e.hash"]
    # Nearly every event: no cell of its own needs quotes, except the payload (JSON: it has quotes).
    # GLOB '*,*' skips to the character with strcspn: the fastest test SQLite has for it.
    plain = " AND ".join(f"({x} IS NULL OR NOT ({x} GLOB '*,*' OR {x} GLOB '*\"*' OR {x} GLOB '*' || char(10) || '*'))"
                         for x in own)
    fast = (f"printf('%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,no,,\"%w\",%s,%s' || char(10), e.id, {at}, {places}, e.type, "
            f"e.actor_id, {actor}, e.from_phase, e.to_phase, e.reason, e.evidence, e.payload, e.prev_hash, e.hash)")
    cells = ["e.id", at, places, q("e.type"), "coalesce(e.actor_id, '')", actor] + [q(x) for x in own[1:5]] + [
        "'no'", "''", f"CASE WHEN coalesce(e.payload, '') = '' THEN '{{}}' ELSE {q('e.payload')} END",
        q("e.prev_hash"), q("e.hash")]
    slow = " || ',' || ".join(cells) + " || char(10)"
    raw = "json_array(" + ", ".join(
        f"a.{c}" if c in ("slug", "wijk", "gemeente") else f"e.{c}" for c in AUDIT_EXPORT_COLUMNS) + ")"
    line = (f"CASE WHEN instr(e.payload, '\"gate\"') OR instr(e.payload, '\"override\"') "
            f"OR e.at < :win_from OR e.at >= :win_to OR substr(e.at, 11, 1) <> ' ' THEN {raw} "
            f"WHEN instr(e.payload, '\"') AND {plain} THEN {fast} ELSE {slow} END")
    sql = (f"WITH {people}, {aanpakken} SELECT {line} FROM audit_event e LEFT OUTER JOIN a ON a.id = e.aanpak_id "
           f"LEFT OUTER JOIN p ON p.id = e.actor_id{where} ORDER BY e.id")
    return sql, params


def _audit_csv_lines_postgresql(offsets: list[tuple[Any, int, str]], where: str,
                                params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """audit_csv_lines_sql on PostgreSQL: `offsets` and `window` are exact moments there (the old
    path converts each aware datetime), and the server builds the lines in its own process."""

    def q(x: str) -> str:
        return (f"CASE WHEN strpos({x}, ',') > 0 OR strpos({x}, '\"') > 0 OR strpos({x}, chr(10)) > 0 "
                f"THEN '\"' || replace({x}, '\"', '\"\"') || '\"' ELSE coalesce({x}, '') END")

    whens = []
    for i, (moment, seconds, suffix) in enumerate(offsets):
        params.update({f"tz_from{i}": moment, f"tz_sec{i}": seconds, f"tz_suffix{i}": suffix})
        local = (f"to_char((e.at AT TIME ZONE 'UTC') + :tz_sec{i} * interval '1 second', "
                 f"'YYYY-MM-DD\"T\"HH24:MI:SS') || :tz_suffix{i}")
        whens.append(f"WHEN e.at >= :tz_from{i} THEN {local}" if i else f"ELSE {local}")
    at = "CASE " + " ".join(reversed(whens)) + " END" if len(whens) > 1 else whens[0][5:]
    actor = ("CASE WHEN e.actor_id IS NULL THEN ',' WHEN p.id IS NULL OR p.forgotten_at IS NOT NULL "
             f"THEN '(forgotten person),' ELSE {q('p.name')} || ',' || {q('p.email')} END")
    cells = ["e.id::text", at, q("a.slug"), q("a.wijk"), q("a.gemeente"), q("e.type"),
             "coalesce(e.actor_id::text, '')", actor] + [q(x) for x in ("e.from_phase", "e.to_phase", "e.reason",
                                                                       "e.evidence")] + [
        "'no'", "''", f"CASE WHEN coalesce(e.payload, '') = '' THEN '{{}}' ELSE {q('e.payload')} END",
        q("e.prev_hash"), q("e.hash")]
    raw = "json_build_array(" + ", ".join(
        f"a.{c}" if c in ("slug", "wijk", "gemeente") else f"e.{c}" for c in AUDIT_EXPORT_COLUMNS) + ")::text"
    built = " || ',' || ".join(cells)
    line = (f"CASE WHEN strpos(e.payload, '\"gate\"') > 0 OR strpos(e.payload, '\"override\"') > 0 "
            f"OR e.at < :win_from OR e.at >= :win_to THEN {raw} ELSE {built} || chr(10) END")
    sql = (f"SELECT {line} FROM audit_event e LEFT OUTER JOIN aanpak a ON a.id = e.aanpak_id "
           f"LEFT OUTER JOIN person p ON p.id = e.actor_id{where} ORDER BY e.id")
    return sql, params


# --- audit: verification, queries, history replay (issue 4) ---------------------------

STREAM_BATCH = 2000


def stream_chain(conn: sa.Connection) -> Iterator[Row]:
    """Every event in chain order, fetched in batches (a server-side cursor on PostgreSQL)."""
    yield from conn.execution_options(yield_per=STREAM_BATCH).execute(sa.select(T.event).order_by(T.event.c.id))


def event_id_by_hash(conn: sa.Connection, hash_: str) -> int | None:
    """Which event carries this hash (a full scan: only used to explain a broken chain)."""
    return conn.execute(sa.select(T.event.c.id).where(T.event.c.hash == hash_).limit(1)).scalar()


def chain_head(conn: sa.Connection) -> Row | None:
    return conn.execute(sa.select(T.event.c.id, T.event.c.at, T.event.c.hash)
                        .order_by(T.event.c.id.desc()).limit(1)).first()


def query_events(conn: sa.Connection, *, aanpak_id: int | None = None, wijk: str | None = None,
                 gemeente: str | None = None, phase: str | None = None, actor_id: int | None = None,
                 types: tuple[str, ...] = (), since: datetime | None = None,
                 until: datetime | None = None) -> Iterator[Row]:
    """Events matching every filter given, in chain order, streamed in batches."""
    query = (sa.select(T.event, T.aanpak.c.slug.label("aanpak_slug"), T.aanpak.c.name.label("aanpak_name"),
                       T.aanpak.c.wijk.label("aanpak_wijk"), T.aanpak.c.gemeente.label("aanpak_gemeente"))
             .select_from(T.event.outerjoin(T.aanpak, T.aanpak.c.id == T.event.c.aanpak_id)))
    if aanpak_id is not None:
        query = query.where(T.event.c.aanpak_id == aanpak_id)
    if wijk:
        query = query.where(sa.func.lower(T.aanpak.c.wijk) == wijk.lower())
    if gemeente:
        query = query.where(sa.func.lower(T.aanpak.c.gemeente) == gemeente.lower())
    if phase:
        query = query.where(sa.or_(T.event.c.from_phase == phase, T.event.c.to_phase == phase))
    if actor_id is not None:
        query = query.where(T.event.c.actor_id == actor_id)
    if types:
        query = query.where(T.event.c.type.in_(types))
    if since is not None:
        query = query.where(T.event.c.at >= since)
    if until is not None:
        query = query.where(T.event.c.at < until)
    yield from conn.execution_options(yield_per=STREAM_BATCH).execute(query.order_by(T.event.c.id))


def event_types(conn: sa.Connection) -> set[str]:
    return {r.type for r in rawsql.rows(conn, "SELECT DISTINCT type FROM audit_event")}


def wijk_exists(conn: sa.Connection, wijk: str) -> bool:
    return rawsql.first(conn, "SELECT id FROM aanpak WHERE lower(wijk) = :wijk LIMIT 1", wijk=wijk.lower()) is not None


def gemeente_exists(conn: sa.Connection, gemeente: str) -> bool:
    return rawsql.first(conn, "SELECT id FROM aanpak WHERE lower(gemeente) = :gemeente LIMIT 1",
                        gemeente=gemeente.lower()) is not None


def all_people(conn: sa.Connection) -> dict[int, Row]:
    """Everyone, by id: far fewer people than events, so a lookup table is fine."""
    return {r.id: r for r in rawsql.rows(conn, "SELECT * FROM person")}


def any_admin(conn: sa.Connection) -> bool:
    return conn.execute(sa.select(T.person.c.id).where(T.person.c.role == "admin").limit(1)).first() is not None


def definition_id_by_version(conn: sa.Connection, name: str, version: int) -> int | None:
    return conn.execute(sa.select(T.definition.c.id).where(
        T.definition.c.name == name, T.definition.c.version == version)).scalar()


def phase_events(conn: sa.Connection, aanpak_ids: list[int] | None = None) -> Iterator[Row]:
    """Creation and phase changes, grouped by aanpak in time order: the input of phase statistics."""
    query = (sa.select(T.event.c.id, T.event.c.aanpak_id, T.event.c.at, T.event.c.type, T.event.c.from_phase,
                       T.event.c.to_phase, T.event.c.payload)
             .where(T.event.c.type.in_(("aanpak_created", "phase_changed")), T.event.c.aanpak_id.is_not(None)))
    if aanpak_ids is not None:
        query = query.where(T.event.c.aanpak_id.in_(aanpak_ids))
    yield from conn.execution_options(yield_per=STREAM_BATCH).execute(
        query.order_by(T.event.c.aanpak_id, T.event.c.id))


def events_until(conn: sa.Connection, aanpak_id: int, until: datetime) -> list[Row]:
    return list(conn.execute(sa.select(T.event).where(T.event.c.aanpak_id == aanpak_id, T.event.c.at < until)
                             .order_by(T.event.c.id)))


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
