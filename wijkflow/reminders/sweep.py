"""The transactional outbox: one sweep claims what is due, renders it, sends it, records it.

1. Fan-out (one write transaction): every due occurrence is claimed with a conditional
   UPDATE (pending -> queued; the rowcount says who won), checked once more against the
   aanpak (still in that phase? criterion still open? deadline unchanged?) and turned into
   one outbox message per recipient. A repeating rule schedules its next period here.
2. Claim (one write transaction): due outbox messages go pending -> sending with this
   sweep's token and a lease (`claimed_at`), by one conditional UPDATE; on PostgreSQL the
   candidates are locked FOR UPDATE SKIP LOCKED first, so concurrent sweeps take disjoint
   batches. Claims whose lease ran out (WIJKFLOW_LEASE_SECONDS, default 300: the node that
   claimed them died) are taken over by any other sweep.
3. Send each message, then record the outcome with its audit event in its own transaction.
   A sweep renews the lease on what it still holds every third of the lease, and skips a
   message whose claim was taken over meanwhile.

Guarantees: a claim is exclusive, so two sweeps never send the same message. Between the
server accepting a message and step 3 committing, a crash leaves the claim behind; after the
lease it is sent again with the same Message-ID (at most one duplicate, which mail clients
and servers can recognise). A node stalled for longer than the lease between renewing and
sending (a frozen VM) can cause the same single duplicate. Nothing is lost: a message ends
sent, failed (with the server's answer) or is pending for a retry; an occurrence ends queued
or cancelled (reason).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from .. import gates, store
from ..definitions import ReminderRule
from .calendar import Span, WorkCalendar
from .mailers import DeliveryError, mailer_for
from .render import (
    ROLE_LABELS,
    Rendered,
    TemplateProblem,
    build_message,
    deadline_ics,
    long_date,
    message_bytes,
    message_id_for,
    render,
)
from .schedule import DEADLINE_KINDS, PHASE_KINDS, schedule_every

log = logging.getLogger(__name__)

BATCH = 100
VIEWS_FOR = 30  # seconds
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=2)
BACKOFF_MAX = timedelta(hours=6)


def backoff(attempts: int) -> timedelta:
    """2, 4, 8 ... minutes after the 1st, 2nd, 3rd failed attempt, at most 6 hours."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def lease_of(app: Any) -> timedelta:
    """How long a claim holds (WIJKFLOW_LEASE_SECONDS) before another scheduler may take it over."""
    return timedelta(seconds=float(app.settings.lease_seconds))


def truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on") if value is not None else False


@dataclass
class SweepResult:
    queued: int = 0
    cancelled: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    transport: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"queued": self.queued, "cancelled": self.cancelled, "sent": self.sent,
                "retrying": self.retrying, "failed": self.failed, "transport": self.transport,
                "messages": self.messages}


# --- 1. fan-out -------------------------------------------------------------------------


def _rule(definition: Any, key: str) -> ReminderRule | None:
    return next((r for r in definition.reminders if r.key == key), None)


def _criterion_state(definition: Any, f: gates.Facts, key: str, now: datetime) -> bool | None:
    """True met, False open, None when the criterion is not on a gate out of the current phase."""
    for t in definition.outgoing(f.phase):
        if key in t.gate:
            result = gates.evaluate(definition, t, f, now)
            return next(c.met for c in result.criteria if c.key == key)
    return None


def _why_not(conn: sa.Connection, ctx: Any, rule: ReminderRule | None, r: Any, now: datetime) -> str | None:
    """The reason an occurrence is no longer relevant, or None when it should go out."""
    from ..services.common import facts

    row = ctx.row
    if rule is None:
        return f"the rule '{r.rule}' is no longer in workflow {ctx.definition.ref}"
    if ctx.definition.phase(row.phase) is not None and ctx.definition.phase(row.phase).final:
        return "the aanpak is closed"
    if r.kind in PHASE_KINDS and (row.phase != r.phase or row.visit != r.visit):
        return f"the aanpak is no longer in that visit of phase {r.phase}"
    if r.kind in DEADLINE_KINDS:
        current = store.deadlines(conn, row.id).get(r.criterion)
        if current != r.deadline:
            return f"the deadline of '{r.criterion}' is now {current}"
        state = _criterion_state(ctx.definition, facts(conn, ctx), r.criterion, now)
        if state is None:
            return f"'{r.criterion}' is not on the gate of the current phase {row.phase}"
        if state:
            return f"'{r.criterion}' is already met"
    return None


def fan_out(app: Any, now: datetime, *, batch: int = 200) -> tuple[int, int]:
    """Claim due occurrences and create their outbox messages. Returns (queued, cancelled).

    In batches, each its own short transaction, so other writers never wait long for the lock.
    """
    queued = cancelled = 0
    while True:
        q, c, seen = _fan_out_batch(app, now, batch)
        queued, cancelled = queued + q, cancelled + c
        if seen < batch:
            return queued, cancelled


def _fan_out_batch(app: Any, now: datetime, limit: int) -> tuple[int, int, int]:
    """One transaction: claim up to `limit` due occurrences. Returns (queued, cancelled, seen)."""
    from ..services.common import load

    queued = cancelled = 0
    cal = WorkCalendar.from_settings(app.settings)
    with app.db.write() as conn:
        due = store.lock_due_reminders(conn, now, limit)
        won = store.claim_reminders(conn, [r.id for r in due], now)
        contexts: dict[int, Any] = {}  # an aanpak's reminders share its row, definition and roles
        for r in due:
            if r.id not in won:
                continue  # another sweep took it
            ctx = contexts.get(r.aanpak_id)
            if ctx is None:
                ctx = contexts[r.aanpak_id] = load(conn, str(r.aanpak_id), app.definitions)
            rule = _rule(ctx.definition, r.rule)
            reason = _why_not(conn, ctx, rule, r, now)
            recipients: dict[int, str] = {}
            if reason is None and rule is not None:
                for role in rule.to:
                    for holder in sorted(ctx.holders(role)):
                        recipients.setdefault(holder, role)
                if not recipients:
                    reason = f"nobody holds the role {' or '.join(rule.to)} on this aanpak"
            if reason is not None:
                store.settle_reminder(conn, r.id, status="cancelled", reason=reason, now=now)
                store.append_event(conn, at=now, type="reminder_cancelled", aanpak_id=r.aanpak_id, reason=reason,
                                   payload={"reminder_id": r.id, "rule": r.rule, "kind": r.kind})
                cancelled += 1
            else:
                for person_id, role in recipients.items():
                    store.insert_message(conn, reminder_id=r.id, person_id=person_id, role=role, status="pending",
                                         attempts=0, next_attempt_at=now, created_at=now,
                                         message_id=message_id_for(r.id, person_id, app.settings.mail_from))
                queued += 1
            if r.kind == "every" and rule is not None and ctx.row.phase == r.phase and ctx.row.visit == r.visit:
                schedule_every(conn, cal, r.aanpak_id, rule, phase=r.phase, visit=r.visit,
                               entry=cal.local_date(ctx.row.phase_since), now=now, after_seq=r.seq)
    return queued, cancelled, len(due)


# --- 2. what a message says ------------------------------------------------------------------


def _aanpak_view(conn: sa.Connection, app: Any, aanpak_id: int, now: datetime) -> dict[str, Any]:
    """What every message about this aanpak shares right now: its row, open criteria, gates, commands.

    The same for each recipient and rule, so a sweep computes it once per aanpak and batch.
    """
    from ..services.common import facts, load

    ctx = load(conn, str(aanpak_id), app.definitions)
    d, row = ctx.definition, ctx.row
    f = facts(conn, ctx)
    open_: dict[str, dict[str, Any]] = {}
    gate_views = []
    for t in d.outgoing(row.phase):
        unmet = [{"key": c.key, "label": c.label, "kind": c.kind, "why": c.why}
                 for c in gates.evaluate(d, t, f, now).criteria if c.blocking]
        gate_views.append({"label": t.label, "to": t.dest, "to_label": d.phase_label(t.dest), "open": unmet})
        for c in unmet:
            open_.setdefault(c["key"], c)
    commands = []
    for c in open_.values():
        if c["kind"] == "deliverable":
            commands.append(f'wijkflow complete {row.slug} {c["key"]} --evidence "..."')
        elif c["kind"] == "approval":
            commands.append(f"wijkflow approve {row.slug} {c['key']}")
        elif c["kind"] == "indicators":
            commands.append(f"wijkflow measure {row.slug} INDICATOR WAARDE")
    commands.append(f"wijkflow gate {row.slug}" if open_ else f"wijkflow advance {row.slug}")
    return {"definition": d, "row": row, "open": open_, "gates": gate_views, "commands": commands}


def message_context(conn: sa.Connection | None, app: Any, *, aanpak_id: int, rule: ReminderRule, kind: str,
                    person: Any, role: str, due_at: datetime, criterion: str | None, deadline: Any,
                    now: datetime, views: dict[int, dict[str, Any]] | None = None) -> tuple[dict[str, Any], str]:
    """The template context for one recipient, and their locale. `views`: a per-batch cache
    (`conn` may be None when it holds the aanpak)."""
    view = views.get(aanpak_id) if views is not None else None
    if view is None:
        assert conn is not None
        view = _aanpak_view(conn, app, aanpak_id, now)
        if views is not None:
            views[aanpak_id] = view
    d, row, open_ = view["definition"], view["row"], view["open"]
    locale = person.locale if person.locale in ("nl", "en") else "nl"
    days = int((now - row.phase_since) / timedelta(days=1))
    phase = d.phase(row.phase)
    if kind == "stalled" and isinstance(rule.stalled, str):
        limit = str(Span.parse(rule.stalled))
    else:
        limit = f"{phase.max_days if phase else '?'} {'dagen' if locale == 'nl' else 'days'}"
    crit = None
    crit_cmd = None
    if criterion:
        c = d.criteria.get(criterion)
        crit = {"key": criterion, "label": c.label if c else criterion}
        verb = "approve" if c is not None and c.kind == "approval" else "complete"
        crit_cmd = f"{verb} {row.slug} {criterion}" + (' --evidence "..."' if verb == "complete" else "")
    local_due = due_at.astimezone(app.tz).date()
    context = {
        "person": {"name": person.name or person.email or ""},
        "aanpak": {"name": row.name, "slug": row.slug, "wijk": row.wijk, "gemeente": row.gemeente,
                   "phase": row.phase, "phase_label": d.phase_label(row.phase)},
        "rule": {"key": rule.key, "kind": kind},
        "role": role, "role_label": ROLE_LABELS[locale].get(role, role),
        "due_date": long_date(local_due, locale),
        "phase_since": long_date(row.phase_since.astimezone(app.tz).date(), locale),
        "days_in_phase": days, "limit": limit,
        "open": list(open_.values()), "gates": view["gates"], "commands": view["commands"],
        "criterion": crit, "criterion_command": crit_cmd, "overdue": kind == "overdue",
        "deadline": long_date(deadline, locale) if deadline else None,
        "days_left": (deadline - now.astimezone(app.tz).date()).days if deadline else None,
    }
    return context, locale


def _compose(conn: sa.Connection | None, app: Any, rows: list[Any], now: datetime, digest: bool,
             views: dict[int, dict[str, Any]] | None = None, as_bytes: bool = False,
             people: dict[int, Any] | None = None) -> tuple[Any, str, str]:
    """(the message, recipient address, Message-ID) for one message, or a digest of several.

    `as_bytes`: the message as the bytes smtplib would send, for a mailer with `send_bytes`,
    unless the recipient's address is not ASCII (smtplib then sends it differently, SMTPUTF8).
    `people` and `views` hold what was read already; `conn` may be None when they hold it all.
    """
    pid = rows[0].person_id
    if people is not None and pid in people:
        person = people[pid]
    else:
        assert conn is not None
        person = store.people_by_id(conn, {pid}).get(pid)
    views = {} if views is None else views
    items = []
    for m in rows:
        if m.aanpak_id not in views:
            assert conn is not None
            views[m.aanpak_id] = _aanpak_view(conn, app, m.aanpak_id, now)
        rule = _rule(views[m.aanpak_id]["definition"], m.rule)
        if rule is None:
            raise TemplateProblem(template=m.rule, problem="the rule is no longer in the workflow")
        context, locale = message_context(conn, app, aanpak_id=m.aanpak_id, rule=rule, kind=m.kind, person=person,
                                          role=m.role, due_at=m.due_at, criterion=m.criterion, deadline=m.deadline,
                                          now=now, views=views)
        rendered = render(rule.template, locale, context, rule.subject_for(locale))
        if m.kind in DEADLINE_KINDS and m.deadline is not None:
            rendered.ics = deadline_ics(
                uid=f"deadline.{m.aanpak_id}.{m.criterion}@wijkflow", day=m.deadline, stamp=now,
                summary=f"Deadline: {context['criterion']['label']} ({context['aanpak']['wijk']})",
                description=f"wijkflow {context['criterion_command']}")
        items.append((context, rendered, locale))
    if not digest or len(items) == 1:
        context, rendered, locale = items[0]
        message_id = rows[0].message_id
    else:
        locale = items[0][2]
        n = len(items)
        subject = (f"{n} herinneringen van wijkflow" if locale == "nl" else f"{n} reminders from wijkflow")
        ctx = {"person": items[0][0]["person"],
               "items": [{**c, "subject": r.subject} for c, r, _ in items]}
        rendered = render("digest", locale, ctx, subject)
        domain = rows[0].message_id.rsplit("@", 1)[-1]
        message_id = f"<digest.{'-'.join(str(m.id) for m in rows)}@{domain}"
    to_addr = (person.email if person else None) or ""
    build = message_bytes if as_bytes and to_addr.isascii() else build_message
    msg = build(mail_from=app.settings.mail_from, to_name=person.name if person else None, to_addr=to_addr,
                rendered=rendered, message_id=message_id, now=now, locale=locale)
    return msg, person.email, message_id


def preview(conn: sa.Connection, app: Any, *, aanpak_id: int, rule: ReminderRule, person: Any, role: str,
            now: datetime) -> Rendered:
    """What a rule's message would say to one person right now (for `wijkflow mail preview`)."""
    deadlines = store.deadlines(conn, aanpak_id)
    criterion = next((c for c in (rule.criteria or sorted(deadlines)) if c in deadlines), None) \
        if rule.kind == "before" else None
    context, locale = message_context(conn, app, aanpak_id=aanpak_id, rule=rule, kind=rule.kind, person=person,
                                      role=role, due_at=now, criterion=criterion,
                                      deadline=deadlines.get(criterion) if criterion else None, now=now)
    return render(rule.template, locale, context, rule.subject_for(locale))


# --- 3. the sweep -----------------------------------------------------------------------------


def _token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def sweep(app: Any, *, mailer: Any = None, now: datetime | None = None, dry_run: bool = False,
          on_sent: Callable[[dict[str, Any]], None] | None = None,
          stop: Callable[[], bool] | None = None) -> SweepResult:
    """Send everything that is due. Safe to run from several processes at once.

    `stop`: asked before each claim batch; when it answers True the sweep ends after the batch
    it holds (the daemon's SIGTERM), leaving the rest for the next sweep or another node.
    """
    fixed = now is not None  # a caller-given moment (a replay, a test) stays that moment throughout
    now = now or app.now()
    result = SweepResult()
    if dry_run:
        return _dry_run(app, now, result)
    result.queued, result.cancelled = fan_out(app, now)
    mailer = mailer or mailer_for(app.settings)
    result.transport = mailer.transport
    digest = truthy(app.settings.mail_digest)
    token = _token()
    lease = lease_of(app)
    # What messages about one aanpak share (its phase, open criteria, gates), computed once and
    # reused for VIEWS_FOR seconds: a sweep of thousands does not read one aanpak a dozen times.
    views: dict[int, dict[str, Any]] = {}
    views_since = time.monotonic()
    # Over SMTP the server takes each message on a thread of its own (the _Courier) while this one
    # records the previous outcome and renders the next message; see _Courier for the guarantee.
    courier = _Courier(mailer) if getattr(mailer, "send_bytes", None) is not None else None
    unrecorded: list[Any] = []  # the group sent last and its outcome, until recorded

    def record_last() -> None:
        while unrecorded:
            group, outcome = unrecorded.pop()
            _record(app, group, outcome, token=token, now=now, result=result, transport=mailer.transport)
            if on_sent is not None and outcome is None:
                on_sent({"ids": [m.id for m in group]})

    try:
        while stop is None or not stop():
            claimed_at = now if fixed else app.now()  # a long sweep's later batches get fresh leases
            with app.db.write() as conn:
                claimed = store.claim_messages(conn, now=claimed_at, lease_expired_before=claimed_at - lease,
                                               token=token, limit=BATCH)
                rows = store.message_rows(conn, claimed)
                # The recipients as they are when their messages are claimed: one query per batch,
                # not a transaction per message.
                people = store.people_by_id(conn, {m.person_id for m in rows})
            if not rows:
                break
            renewed = time.monotonic()
            held = set(claimed)
            groups: dict[Any, list[Any]] = {}
            for m in rows:
                groups.setdefault(m.person_id if digest else m.id, []).append(m)
            unreachable: DeliveryError | None = None
            if time.monotonic() - views_since > VIEWS_FOR:
                views, views_since = {}, time.monotonic()
            pending = list(groups.values())
            ahead: dict[int, Any] = {}  # a group's message, composed while the one before it was sent
            for i, group in enumerate(pending):
                if time.monotonic() - renewed > lease.total_seconds() / 3:
                    with app.db.write() as conn:
                        held = store.renew_claims(conn, [m.id for g in pending[i:] for m in g], token=token,
                                                  now=now if fixed else app.now())
                    renewed = time.monotonic()
                composed = ahead.pop(i, None)
                if any(m.id not in held for m in group):
                    log.warning("messages %s were taken over by another sweep; not sending them here",
                                [m.id for m in group])
                    continue
                outcome: DeliveryError | TemplateProblem | None
                if unreachable is not None:
                    outcome = unreachable
                else:
                    if composed is None:
                        composed = _prepare(app, mailer, group, now, views, people)
                    if isinstance(composed, _Failed):
                        record_last()
                        raise composed.error  # composing it ahead failed unexpectedly
                    if not isinstance(composed, tuple):
                        outcome = composed  # it cannot be sent as it is (template, address)
                    elif courier is None:
                        outcome = _transmit(mailer, composed)
                    else:
                        trip = courier.carry(composed)  # the envelope (MAIL, RCPT, DATA) goes out now ...
                        record_last()  # ... while the previous outcome is recorded; only then ...
                        trip.release()  # ... may this message's data follow
                        if i + 1 < len(pending):
                            ahead[i + 1] = _prepare(app, mailer, pending[i + 1], now, views, people, ahead=True)
                        outcome = trip.result()
                if isinstance(outcome, DeliveryError) and outcome.connection:
                    unreachable = outcome  # do not wait for the same dead server once per message
                record_last()
                unrecorded.append((group, outcome))
                if courier is None:
                    record_last()
            record_last()
    except BaseException:
        if unrecorded:  # an outcome the server gave: record it if the database still lets us
            ids = [m.id for group, _ in unrecorded for m in group]
            try:
                record_last()
            except Exception:  # noqa: BLE001 - the error that got us here is the one to raise
                log.exception("could not record the outcome of messages %s; their lease runs out", ids)
        raise
    finally:
        if courier is not None:
            courier.close()  # a message still on its way is abandoned before its data: never delivered
        mailer.close()
    return result


@dataclass
class _Failed:
    """An unexpected error while composing a message ahead, raised when its turn comes."""

    error: BaseException


class _Trip:
    """One message in the courier's hands: its envelope may go out at once, its data only when released."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.abandoned = False
        self.future: Any = None

    def release(self) -> None:
        self.released.set()

    def result(self) -> DeliveryError | None:
        return self.future.result()  # type: ignore[no-any-return]


class _Courier:
    """Hands one message at a time to the mailer on a thread of its own.

    An SMTP exchange is mostly waiting for the server. The courier opens the next message's
    transaction (MAIL, RCPT, DATA) while the sweep records the previous outcome, and sends the
    data, the moment the server accepts a message, only once that record has committed; the
    sweep renders the message after it meanwhile. So never more than one message is accepted
    by the server and not yet recorded: the same crash window as sending them one by one.
    """

    def __init__(self, mailer: Any) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.mailer = mailer
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wijkflow-smtp")
        self._trips: list[_Trip] = []

    def carry(self, composed: tuple[Any, str]) -> _Trip:
        trip = _Trip()
        trip.future = self._pool.submit(self._run, composed, trip)
        self._trips = [trip]
        return trip

    def _run(self, composed: tuple[Any, str], trip: _Trip) -> DeliveryError | None:
        msg, to_addr = composed
        begin = getattr(self.mailer, "begin", None)
        try:
            if not isinstance(msg, bytes) or begin is None:
                trip.released.wait()
                if trip.abandoned:
                    return None
                return _transmit(self.mailer, composed)
            begin(msg, to_addr)
            trip.released.wait()
            if trip.abandoned:
                self.mailer.abandon()  # a transaction without its data is not delivered
                return None
            self.mailer.complete(msg, to_addr)
        except DeliveryError as exc:
            return exc
        return None

    def close(self) -> None:
        for trip in self._trips:
            if not trip.released.is_set():
                trip.abandoned = True
                trip.release()
        self._pool.shutdown(wait=True)


def _prepare(app: Any, mailer: Any, group: list[Any], now: datetime, views: dict[int, dict[str, Any]],
             people: dict[int, Any], *,
             ahead: bool = False) -> tuple[Any, str] | DeliveryError | TemplateProblem | _Failed:
    """(message, address) for one group, or why it cannot go out. The message is the bytes smtplib
    would send when the mailer takes bytes (SMTP): building and flattening the email package's
    objects cost more per message than the SMTP exchange itself (see render.message_bytes)."""
    as_bytes = getattr(mailer, "send_bytes", None) is not None and str(getattr(mailer, "envelope_from", "")).isascii()
    digest = len(group) > 1
    try:
        if all(m.aanpak_id in views and m.person_id in people for m in group):  # all at hand: no transaction
            msg, to_addr, _ = _compose(None, app, group, now, digest, views, as_bytes, people)
        else:
            with app.db.read() as conn:
                msg, to_addr, _ = _compose(conn, app, group, now, digest, views, as_bytes, people)
    except (DeliveryError, TemplateProblem) as exc:
        return exc
    except Exception as exc:
        if not ahead:
            raise
        return _Failed(exc)  # not now: the message on its way must be recorded first
    return msg, to_addr


def _transmit(mailer: Any, composed: tuple[Any, str]) -> DeliveryError | None:
    msg, to_addr = composed
    try:
        if isinstance(msg, bytes):
            mailer.send_bytes(msg, to_addr)
        else:
            mailer.send(msg, to_addr)
    except DeliveryError as exc:
        return exc
    return None


def _record(app: Any, group: list[Any], outcome: DeliveryError | TemplateProblem | None, *, token: str,
            now: datetime, result: SweepResult, transport: str) -> None:
    with app.db.write() as conn:
        for m in group:
            base = {"reminder_id": m.reminder_id, "message": m.id, "person_id": m.person_id, "rule": m.rule,
                    "message_id": m.message_id, "attempt": m.attempts, "transport": transport}
            if outcome is None:
                status, error, retry_at, event = "sent", None, None, "reminder_sent"
            else:
                # A template that fails is fixable by an administrator: keep the message, retry later.
                retryable = isinstance(outcome, TemplateProblem) or outcome.retryable
                error = str(outcome)
                if retryable and m.attempts < MAX_ATTEMPTS:
                    status, retry_at, event = "pending", now + backoff(m.attempts), "reminder_retry_scheduled"
                else:
                    if retryable:
                        error = f"gave up after {m.attempts} attempts: {error}"
                    status, retry_at, event = "failed", None, "reminder_failed"
            if not store.finish_message(conn, m.id, token=token, status=status, now=now, error=error,
                                        next_attempt_at=retry_at):
                log.warning("message %s was taken over by another sweep; its outcome is recorded there", m.id)
                continue
            payload = {**base, **({"error": error} if error else {}),
                       **({"next_attempt_at": retry_at.isoformat()} if retry_at else {})}
            store.append_event(conn, at=now, type=event, aanpak_id=m.aanpak_id, payload=payload)
            setattr(result, {"sent": "sent", "pending": "retrying", "failed": "failed"}[status],
                    getattr(result, {"sent": "sent", "pending": "retrying", "failed": "failed"}[status]) + 1)
            result.messages.append({"message": m.id, "reminder": m.reminder_id, "rule": m.rule,
                                    "person_id": m.person_id, "status": status, "error": error,
                                    "message_id": m.message_id})
            log.info("reminder %s (%s) to person #%s: %s%s", m.reminder_id, m.rule, m.person_id, status,
                     f" ({error})" if error else "")


def _dry_run(app: Any, now: datetime, result: SweepResult) -> SweepResult:
    """What a sweep would do now, without claiming or sending anything."""
    from ..services.common import load

    with app.db.read() as conn:
        for r in store.due_reminders(conn, now, 1000):
            ctx = load(conn, str(r.aanpak_id), app.definitions)
            rule = _rule(ctx.definition, r.rule)
            reason = _why_not(conn, ctx, rule, r, now)
            holders = {h: role for role in (rule.to if rule else ()) for h in sorted(ctx.holders(role))}
            if reason is None and not holders:
                reason = "nobody holds the role"
            if reason is not None:
                result.cancelled += 1
                result.messages.append({"reminder": r.id, "rule": r.rule, "aanpak": ctx.row.slug,
                                        "status": "would cancel", "error": reason})
                continue
            result.queued += 1
            for pid, role in holders.items():
                result.messages.append({"reminder": r.id, "rule": r.rule, "aanpak": ctx.row.slug,
                                        "person_id": pid, "role": role, "status": "would send"})
        stale = now - lease_of(app)
        for m in store.message_rows(conn, store.claimable_messages(conn, now, stale, 10_000)):
            result.messages.append({"message": m.id, "reminder": m.reminder_id, "rule": m.rule,
                                    "person_id": m.person_id, "status": "would send", "attempt": m.attempts + 1})
    return result
