"""The tables. SQLModel declares them; queries live in store/ (SQLAlchemy Core on the tables below).

Personal data (names, email addresses) lives only in `person`. Everything else refers to
a person by id, so that `people forget` can erase a person without touching the
append-only, hash-chained `audit_event` table.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the database stores."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; wijkflow stores aware UTC times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        return self.read(value)

    @staticmethod
    def read(value: Any) -> datetime | None:
        """A stored moment (a datetime, or SQLite's text) as an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _utc(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class Person(SQLModel, table=True):
    __tablename__ = "person"
    id: int | None = Field(default=None, primary_key=True)
    email: str | None = Field(default=None, unique=True)
    name: str | None = None
    locale: str = "nl"
    role: str | None = None  # global role: admin | auditor
    created_at: datetime = _utc()
    forgotten_at: datetime | None = _utc(default=None)


class WorkflowDefinition(SQLModel, table=True):
    """Every definition version an aanpak was ever pinned to, kept so old versions keep working."""

    __tablename__ = "workflow_definition"
    __table_args__ = (sa.UniqueConstraint("name", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str
    version: int
    hash: str
    body: str  # canonical JSON of the validated definition
    loaded_at: datetime = _utc()


class Aanpak(SQLModel, table=True):
    __tablename__ = "aanpak"
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True)
    name: str
    wijk: str = Field(index=True)
    gemeente: str = ""
    definition_id: int = Field(foreign_key="workflow_definition.id")
    phase: str = Field(index=True)
    phase_since: datetime = _utc()
    # Incremented on every phase change; criteria records belong to one visit of a phase.
    visit: int = 1
    # Optimistic lock: a phase change only lands if nobody changed the phase first.
    version: int = 1
    # active | suspended (opgeschort: reminders paused) | stopped (stopgezet: final, phase kept as it was).
    # A completed programme is not a status: it is in its definition's final phase (migration 0003).
    # The default is the database's own, so an insert never names the column (inserts on a database
    # still at 0002 keep working until it is upgraded).
    status: str = Field(default="active", sa_column=sa.Column(sa.String, nullable=False, server_default="active"))
    # An external id (zaak-id, the municipality's own number): when given, `import` matches on it.
    external_ref: str | None = Field(default=None, index=True)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class AanpakRole(SQLModel, table=True):
    __tablename__ = "aanpak_role"
    __table_args__ = (sa.UniqueConstraint("aanpak_id", "person_id", "role"),)
    id: int | None = Field(default=None, primary_key=True)
    aanpak_id: int = Field(foreign_key="aanpak.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    role: str


class CriterionRecord(SQLModel, table=True):
    """A deliverable completed or an approval given, during one visit of a phase."""

    __tablename__ = "criterion_record"
    __table_args__ = (sa.Index("ix_criterion_record_visit", "aanpak_id", "visit"),)
    id: int | None = Field(default=None, primary_key=True)
    aanpak_id: int = Field(foreign_key="aanpak.id")
    visit: int
    criterion: str
    action: str  # completed | approved
    person_id: int | None = Field(default=None, foreign_key="person.id")
    evidence: str | None = None
    comment: str | None = None
    at: datetime = _utc()
    # Set by `withdraw` (its own audited event); a withdrawn record no longer counts (migration 0003).
    withdrawn_at: datetime | None = _utc(default=None)


class CriterionDeadline(SQLModel, table=True):
    __tablename__ = "criterion_deadline"
    aanpak_id: int = Field(foreign_key="aanpak.id", primary_key=True)
    criterion: str = Field(primary_key=True)
    due: date


class Indicator(SQLModel, table=True):
    __tablename__ = "indicator"
    __table_args__ = (sa.UniqueConstraint("aanpak_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    aanpak_id: int = Field(foreign_key="aanpak.id", index=True)
    key: str
    label: str
    unit: str = ""
    direction: str = "higher"  # higher | lower is better
    baseline: float | None = None
    baseline_date: date | None = None
    target: float | None = None
    target_date: date | None = None
    created_at: datetime = _utc()


class Measurement(SQLModel, table=True):
    __tablename__ = "measurement"
    id: int | None = Field(default=None, primary_key=True)
    indicator_id: int = Field(foreign_key="indicator.id", index=True)
    value: float
    measured_on: date
    source: str = ""
    person_id: int | None = Field(default=None, foreign_key="person.id")
    at: datetime = _utc()
    # Set by `measure --withdraw` (its own audited event); a withdrawn figure no longer counts (0003).
    withdrawn_at: datetime | None = _utc(default=None)
    # `measure import` from an open-data file: the CBS code the figure is for and the year of the
    # CBS indeling (wijk- en buurtindeling) that code belongs to (migration 0006).
    area_code: str | None = None
    indeling: int | None = None


class AuditEvent(SQLModel, table=True):
    """Append-only (triggers refuse UPDATE and DELETE) and hash-chained over the whole database."""

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_aanpak", "aanpak_id", "id"),
                      # `audit query --actor`: what one person did, in chain order (migration 0002).
                      sa.Index("ix_audit_event_actor", "actor_id", "id"))
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc()
    aanpak_id: int | None = Field(default=None)
    type: str = Field(index=True)
    actor_id: int | None = None
    from_phase: str | None = None
    to_phase: str | None = None
    reason: str | None = None
    evidence: str | None = None
    payload: str = "{}"
    prev_hash: str = ""
    hash: str = ""
    # The event's Merkle leaf hash (hex; docs/audit-format.md), written with the event (migration 0005).
    leaf: str = ""
    # Set when `audit purge` erased the content: {"evidence_sha256", "payload_sha256", "reason_sha256"} (JSON),
    # and "origin_sha256" when the event had an origin.
    erased: str | None = None
    # Where the change came from (wijkflow/provenance.py), canonical JSON: {"host", "os_user", "via": "cli"} or
    # {"client", "host", "method", "via": "web"|"api"}. NULL for events written before revision 0008.
    origin: str | None = None


class AuditLog(SQLModel, table=True):
    """This database's log: the origin line its checkpoints carry and the public key that signs them."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    origin: str
    public_key: str | None = None  # the verifier key (name+keyid+base64) of the first checkpoint's signer
    created_at: datetime = _utc()


class AuditCheckpoint(SQLModel, table=True):
    """A signed checkpoint `audit checkpoint` (or the scheduler) wrote: tree size, root, the note itself."""

    __tablename__ = "audit_checkpoint"
    id: int | None = Field(default=None, primary_key=True)
    size: int = Field(index=True)
    root: str
    at: datetime = _utc()
    note: str


# --- reminders ---


class Reminder(SQLModel, table=True):
    """One occurrence of a reminder rule: what is due, when, and what became of it.

    Never deleted: pending -> queued (fanned out into one message per recipient), or
    cancelled with the reason. `dedupe` makes scheduling the same occurrence twice a no-op.
    """

    __tablename__ = "reminder"
    __table_args__ = (sa.Index("ix_reminder_due", "status", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    aanpak_id: int = Field(foreign_key="aanpak.id", index=True)
    rule: str
    kind: str  # after | every | before | overdue | stalled
    phase: str | None = None
    visit: int | None = None
    criterion: str | None = None
    deadline: date | None = None
    seq: int = 0  # every-rules: the k-th period after the phase entry
    dedupe: str = Field(unique=True)
    due_at: datetime = _utc()
    status: str = "pending"  # pending | queued | cancelled
    reason: str | None = None
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class ReminderMessage(SQLModel, table=True):
    """The outbox: one message per recipient of an occurrence, claimed by one sweep at a time."""

    __tablename__ = "reminder_message"
    __table_args__ = (sa.UniqueConstraint("reminder_id", "person_id"),
                      sa.Index("ix_reminder_message_due", "status", "next_attempt_at"))
    id: int | None = Field(default=None, primary_key=True)
    reminder_id: int = Field(foreign_key="reminder.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    role: str
    status: str = "pending"  # pending | sending | sent | failed
    attempts: int = 0
    next_attempt_at: datetime = _utc()
    claimed_by: str | None = None
    claimed_at: datetime | None = _utc(default=None)
    message_id: str
    error: str | None = None
    sent_at: datetime | None = _utc(default=None)
    created_at: datetime = _utc()


SCHEMA_VERSION = 1


# --- programmes: interpretations, wijkontwikkelingsplan, themes, multi-party sign-off --------


class Interpretation(SQLModel, table=True):
    """Who judged the indicator figures during one visit of a phase, and what they concluded.

    Scores such as the Leefbaarometer signal rather than prove; a phase that depends on
    them may require a person's reading of the figures before it is left.
    """

    __tablename__ = "interpretation"
    __table_args__ = (sa.Index("ix_interpretation_visit", "aanpak_id", "visit"),)
    id: int | None = Field(default=None, primary_key=True)
    aanpak_id: int = Field(foreign_key="aanpak.id")
    visit: int
    phase: str
    person_id: int | None = Field(default=None, foreign_key="person.id")
    conclusion: str
    indicators: str = ""  # comma-separated keys the conclusion is about; empty = all
    at: datetime = _utc()


class PlanPoint(SQLModel, table=True):
    """One line of the analysis of a wijkontwikkelingsplan: a strong point or a knelpunt."""

    __tablename__ = "plan_point"
    id: int | None = Field(default=None, primary_key=True)
    aanpak_id: int = Field(foreign_key="aanpak.id", index=True)
    kind: str  # strength | bottleneck
    text: str
    person_id: int | None = Field(default=None, foreign_key="person.id")
    at: datetime = _utc()


class PlanPartner(SQLModel, table=True):
    """A partner named on one aanpak (beyond those the definition names)."""

    __tablename__ = "plan_partner"
    __table_args__ = (sa.UniqueConstraint("aanpak_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    aanpak_id: int = Field(foreign_key="aanpak.id", index=True)
    key: str  # case-folded name: one partner is one partner however it is typed
    name: str
    at: datetime = _utc()


class PlanActivity(SQLModel, table=True):
    """An activity on the uitvoeringsagenda: who does it, in which year, and how far it is."""

    __tablename__ = "plan_activity"
    __table_args__ = (sa.UniqueConstraint("aanpak_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    aanpak_id: int = Field(foreign_key="aanpak.id", index=True)
    number: int  # 1, 2, ... per aanpak: what people type
    title: str
    partner: str  # the partner's name as named in the definition or on the aanpak
    year: int
    status: str = "planned"  # planned | running | done | dropped
    person_id: int | None = Field(default=None, foreign_key="person.id")
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class AanpakTheme(SQLModel, table=True):
    """A city-wide theme (veranderopgave, focus theme) an aanpak contributes to."""

    __tablename__ = "aanpak_theme"
    __table_args__ = (sa.UniqueConstraint("aanpak_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    aanpak_id: int = Field(foreign_key="aanpak.id", index=True)
    key: str = Field(index=True)
    label: str
    at: datetime = _utc()


class IntendedResult(SQLModel, table=True):
    """A beoogd resultaat of an aanpak under one theme."""

    __tablename__ = "intended_result"
    id: int | None = Field(default=None, primary_key=True)
    theme_id: int = Field(foreign_key="aanpak_theme.id", index=True)
    text: str
    person_id: int | None = Field(default=None, foreign_key="person.id")
    at: datetime = _utc()


class PartyApproval(SQLModel, table=True):
    """One party's sign-off of a multi-party criterion (gebiedstafel, lokaal contract)."""

    __tablename__ = "party_approval"
    __table_args__ = (sa.UniqueConstraint("aanpak_id", "visit", "criterion", "party"),)
    id: int | None = Field(default=None, primary_key=True)
    aanpak_id: int = Field(foreign_key="aanpak.id", index=True)
    visit: int
    criterion: str
    party: str
    person_id: int | None = Field(default=None, foreign_key="person.id")
    evidence: str | None = None
    comment: str | None = None
    at: datetime = _utc()


class AanpakArea(SQLModel, table=True):
    """A CBS area code of an aanpak: its gemeente (GM), wijk (WK) and buurten (BU) (migration 0006)."""

    __tablename__ = "aanpak_area"
    aanpak_id: int = Field(foreign_key="aanpak.id", primary_key=True)
    code: str = Field(primary_key=True, index=True)
    kind: str  # gemeente | wijk | buurt


# --- signing in to the server (`wijkflow serve`, migration 0007) ---
# Every secret (session id, token, link, device code) is stored only as its SHA-256: whoever reads
# the database cannot sign in with what they read.


class WebSession(SQLModel, table=True):
    """A browser's signed-in session: a fresh random id at every sign-in (no session fixation)."""

    __tablename__ = "web_session"
    id: int | None = Field(default=None, primary_key=True)
    secret_hash: str = Field(unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    method: str  # oidc | link
    created_at: datetime = _utc()
    expires_at: datetime = _utc()
    ended_at: datetime | None = _utc(default=None)


class ApiToken(SQLModel, table=True):
    """A personal access token for the CLI and scripts: named, expiring, revocable."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    secret_hash: str = Field(unique=True)
    prefix: str  # the first characters, shown in lists so a person can tell their tokens apart
    person_id: int = Field(foreign_key="person.id", index=True)
    name: str
    created_at: datetime = _utc()
    expires_at: datetime = _utc()
    revoked_at: datetime | None = _utc(default=None)
    last_used_at: datetime | None = _utc(default=None)


class LoginLink(SQLModel, table=True):
    """A one-time sign-in link sent by email, bound to the browser that asked for it."""

    __tablename__ = "login_link"
    id: int | None = Field(default=None, primary_key=True)
    secret_hash: str = Field(unique=True)
    browser_hash: str
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: datetime = _utc()
    expires_at: datetime = _utc()
    used_at: datetime | None = _utc(default=None)


class CliLogin(SQLModel, table=True):
    """`wijkflow login SERVER`: the CLI waits on device_hash while its person confirms in the browser."""

    __tablename__ = "cli_login"
    id: int | None = Field(default=None, primary_key=True)
    device_hash: str = Field(unique=True)
    user_code: str = Field(unique=True)
    host: str  # the computer the CLI runs on, shown when the person confirms
    created_at: datetime = _utc()
    expires_at: datetime = _utc()
    person_id: int | None = Field(default=None, foreign_key="person.id")
    token_id: int | None = Field(default=None, foreign_key="api_token.id")
    claimed_at: datetime | None = _utc(default=None)


# --- the same tables as SQLAlchemy Core sees them: what the queries in store/ are written on ---


def _table(model: type[SQLModel]) -> sa.Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, sa.Table)
    return table


# Every table above, for create_all and `db copy` (SQLModel registers them on its shared metadata).
METADATA = SQLModel.metadata
PERSON = _table(Person)
DEFINITION = _table(WorkflowDefinition)
AANPAK = _table(Aanpak)
ROLE = _table(AanpakRole)
RECORD = _table(CriterionRecord)
DEADLINE = _table(CriterionDeadline)
INDICATOR = _table(Indicator)
MEASUREMENT = _table(Measurement)
EVENT = _table(AuditEvent)
AUDIT_LOG = _table(AuditLog)
CHECKPOINT = _table(AuditCheckpoint)
REMINDER = _table(Reminder)
MESSAGE = _table(ReminderMessage)
INTERPRETATION = _table(Interpretation)
PLAN_POINT = _table(PlanPoint)
PLAN_PARTNER = _table(PlanPartner)
ACTIVITY = _table(PlanActivity)
THEME = _table(AanpakTheme)
RESULT = _table(IntendedResult)
PARTY = _table(PartyApproval)
AREA = _table(AanpakArea)
WEB_SESSION = _table(WebSession)
API_TOKEN = _table(ApiToken)
LOGIN_LINK = _table(LoginLink)
CLI_LOGIN = _table(CliLogin)
