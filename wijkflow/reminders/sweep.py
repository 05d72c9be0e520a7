"""The transactional outbox: one sweep fans out what is due, claims it, sends it, records it.

1. Fan-out (fanout.py; one write transaction per batch): due occurrences become one outbox
   message per recipient, after a last check against the aanpak.
2. Claim (one write transaction): due outbox messages go pending -> sending with this
   sweep's token and a lease (`claimed_at`), by one conditional UPDATE; on PostgreSQL the
   candidates are locked FOR UPDATE SKIP LOCKED first, so concurrent sweeps take disjoint
   batches. Claims whose lease ran out (WIJKFLOW_LEASE_SECONDS, default 300: the node that
   claimed them died) are taken over by any other sweep.
3. Compose each message (compose.py), send it (over SMTP through the courier, courier.py),
   then record the outcome with its audit event in its own transaction. A sweep renews the
   lease on what it still holds every third of the lease, and skips a message whose claim
   was taken over meanwhile.

Guarantees: a claim is exclusive, so two sweeps never send the same message. Between the
server accepting a message and step 3 committing, a crash leaves the claim behind; after the
lease it is sent again with the same Message-ID (at most one duplicate, which mail clients
and servers can recognise). A node stalled for longer than the lease between renewing and
sending (a frozen VM) can cause the same single duplicate. Nothing is lost: a message ends
sent, failed (with the server's answer) or is pending for a retry; an occurrence ends queued
or cancelled (reason).

The dry run is the same fan-out in a transaction that is rolled back, plus the outbox
messages a sweep would claim.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message
from typing import Any

from .. import store
from ..errors import DeliveryError, TemplateProblem
from .compose import AanpakView, compose, digest_message_id
from .courier import Courier, pipelines
from .fanout import BATCH as FAN_OUT_BATCH
from .fanout import Fanned, fan_out, fan_out_batch
from .mailers import mailer_for

log = logging.getLogger(__name__)

BATCH = 100
# A message that keeps failing with a temporary error is tried MAX_ATTEMPTS times, 2, 4, 8, 16, 32,
# 64 and 128 minutes apart: the 8th failure, about 4 h 14 min after the first, marks it failed with
# the server's last answer (README, "Failures"). BACKOFF_MAX only bounds the wait should
# MAX_ATTEMPTS ever be raised; with 8 attempts it is never reached.
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(minutes=2)
BACKOFF_MAX = timedelta(hours=6)

Outcome = DeliveryError | TemplateProblem | None  # None: sent


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 2, 4, 8 ... minutes after the 1st, 2nd, 3rd
    (128 after the 7th, the last retry), never more than BACKOFF_MAX."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def lease_of(app: Any) -> timedelta:
    """How long a claim holds (WIJKFLOW_LEASE_SECONDS) before another scheduler may take it over."""
    return timedelta(seconds=app.settings.lease_seconds)


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


def sweep(app: Any, *, mailer: Any = None, now: datetime | None = None, dry_run: bool = False,
          on_sent: Callable[[dict[str, Any]], None] | None = None,
          stop: Callable[[], bool] | None = None) -> SweepResult:
    """Send everything that is due. Safe to run from several processes at once.

    `stop`: asked before each claim batch; when it answers True the sweep ends after the batch
    it holds (the daemon's SIGTERM), leaving the rest for the next sweep or another node.
    """
    fixed = now is not None  # a caller-given moment (a replay, a test) stays that moment throughout
    now = now or app.now()
    if dry_run:
        return dry_run_sweep(app, now)
    result = SweepResult()
    result.queued, result.cancelled = fan_out(app, now)
    mailer = mailer or mailer_for(app.settings)
    result.transport = mailer.transport
    run = _Run(app, mailer, now=now, fixed=fixed, result=result, on_sent=on_sent)
    try:
        while stop is None or not stop():
            if not run.batch():
                break
    except BaseException:
        run.record_before_raising()
        raise
    finally:
        run.close()
    return result


class _RolledBack(Exception):
    """Ends the dry run's transaction: everything it wrote is rolled back."""


def dry_run_sweep(app: Any, now: datetime) -> SweepResult:
    """What a sweep would do now: the real fan-out, rolled back, and the outbox messages it would claim."""
    result = SweepResult()
    fanned: list[Fanned] = []
    try:
        with app.db.write() as conn:
            # Read before the fan-out adds its messages: those are reported per occurrence below.
            waiting = store.message_rows(conn, store.claimable_messages(conn, now, now - lease_of(app), 10_000))
            while True:
                queued, cancelled, seen = fan_out_batch(conn, app, now, FAN_OUT_BATCH, report=fanned.append)
                result.queued, result.cancelled = result.queued + queued, result.cancelled + cancelled
                if seen < FAN_OUT_BATCH:
                    break
            raise _RolledBack
    except _RolledBack:
        pass
    for f in fanned:
        r, slug = f.occurrence, f.aanpak.row.slug
        if f.reason is not None:
            result.messages.append({"reminder": r.id, "rule": r.rule, "aanpak": slug, "status": "would cancel",
                                    "error": f.reason})
        for pid, role in f.recipients.items():
            result.messages.append({"reminder": r.id, "rule": r.rule, "aanpak": slug, "person_id": pid,
                                    "role": role, "status": "would send"})
    for m in waiting:
        result.messages.append({"message": m.id, "reminder": m.reminder_id, "rule": m.rule,
                                "person_id": m.person_id, "status": "would send", "attempt": m.attempts + 1})
    return result


@dataclass
class _Failed:
    """An unexpected error while composing a message ahead, raised when its turn comes."""

    error: BaseException


Prepared = tuple[Message, str] | DeliveryError | TemplateProblem | _Failed


class _Run:
    """One sweep's send loop: claim a batch, compose, send and record each message."""

    def __init__(self, app: Any, mailer: Any, *, now: datetime, fixed: bool, result: SweepResult,
                 on_sent: Callable[[dict[str, Any]], None] | None) -> None:
        self.app, self.mailer, self.now, self.fixed = app, mailer, now, fixed
        self.result, self.on_sent = result, on_sent
        self.digest = app.settings.mail_digest
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = lease_of(app)
        self.courier = Courier(mailer) if pipelines(mailer) else None
        self.unrecorded: list[tuple[list[Any], Outcome]] = []  # the group sent last and its outcome

    def moment(self) -> datetime:
        return self.now if self.fixed else self.app.now()  # a long sweep's later batches get fresh leases

    def batch(self) -> bool:
        """Claim, send and record one batch; False when nothing was due."""
        claimed_at = self.moment()
        with self.app.db.write() as conn:
            claimed = store.claim_messages(conn, now=claimed_at, lease_expired_before=claimed_at - self.lease,
                                           token=self.token, limit=BATCH)
            rows = store.message_rows(conn, claimed)
            if self.digest:
                pending, stamps = digest_groups(rows, self.app.settings.mail_from)
                if stamps:
                    store.set_message_ids(conn, stamps)
                    rows = store.message_rows(conn, claimed)
                    pending = [[m for m in rows if m.id in {g.id for g in group}] for group in pending]
            else:
                pending = stamped_together(rows)
            # The recipients as they are when their messages are claimed: one query per batch.
            people = store.people_by_id(conn, {m.person_id for m in rows})
        if not rows:
            return False
        views: dict[int, AanpakView] = {}  # what messages about one aanpak share, read once per batch
        held, renewed = set(claimed), time.monotonic()
        unreachable: DeliveryError | None = None
        ahead: dict[int, Prepared] = {}  # a group's message, composed while the one before it was sent
        for i, group in enumerate(pending):
            if time.monotonic() - renewed > self.lease.total_seconds() / 3:
                with self.app.db.write() as conn:
                    held = store.renew_claims(conn, [m.id for g in pending[i:] for m in g], token=self.token,
                                              now=self.moment())
                renewed = time.monotonic()
            prepared = ahead.pop(i, None)
            if any(m.id not in held for m in group):
                log.warning("messages %s were taken over by another sweep; not sending them here",
                            [m.id for m in group])
                continue
            outcome: Outcome
            if unreachable is not None:
                outcome = unreachable  # do not wait for the same dead server once per message
            else:
                if prepared is None:
                    prepared = self.prepare(group, views, people)
                if isinstance(prepared, _Failed):
                    self.record_last()
                    raise prepared.error
                if not isinstance(prepared, tuple):
                    outcome = prepared  # it cannot be sent as it is (template, address)
                elif self.courier is None:
                    outcome = _transmit(self.mailer, *prepared)
                else:
                    trip = self.courier.carry(*prepared)  # the envelope (MAIL, RCPT, DATA) goes out now ...
                    self.record_last()  # ... while the previous outcome is recorded; only then ...
                    trip.release()  # ... may this message's data follow
                    if i + 1 < len(pending):
                        ahead[i + 1] = self.prepare(pending[i + 1], views, people, ahead=True)
                    outcome = trip.result()
            if isinstance(outcome, DeliveryError) and outcome.connection:
                unreachable = outcome
            self.record_last()
            self.unrecorded.append((group, outcome))
            if self.courier is None:
                self.record_last()
        self.record_last()
        return True

    def prepare(self, group: list[Any], views: dict[int, AanpakView], people: dict[int, Any], *,
                ahead: bool = False) -> Prepared:
        """(message, address) for one group, or why it cannot go out."""
        try:
            if all(m.aanpak_id in views for m in group) and group[0].person_id in people:
                return compose(None, self.app, group, self.now, views=views, people=people)  # no transaction
            with self.app.db.read() as conn:
                return compose(conn, self.app, group, self.now, views=views, people=people)
        except (DeliveryError, TemplateProblem) as exc:
            return exc
        except Exception as exc:
            if not ahead:
                raise
            return _Failed(exc)  # not now: the message on its way must be recorded first

    def record_last(self) -> None:
        while self.unrecorded:
            group, outcome = self.unrecorded.pop()
            record(self.app, group, outcome, token=self.token, now=self.now, result=self.result,
                   transport=self.mailer.transport)
            if self.on_sent is not None and outcome is None:
                self.on_sent({"ids": [m.id for m in group]})

    def record_before_raising(self) -> None:
        """An outcome the server gave: record it if the database still lets us."""
        if self.unrecorded:
            ids = [m.id for group, _ in self.unrecorded for m in group]
            try:
                self.record_last()
            except Exception:  # noqa: BLE001 - the error that got us here is the one to raise
                log.exception("could not record the outcome of messages %s; their lease runs out", ids)

    def close(self) -> None:
        if self.courier is not None:
            self.courier.close()  # a message still on its way is abandoned before its data: never delivered
        self.mailer.close()


def digest_groups(rows: list[Any], mail_from: str) -> tuple[list[list[Any]], dict[int, str]]:
    """Digest mode: which claimed messages go out together, and the Message-IDs to stamp on them.

    A digest is fixed when its messages are first claimed: they are stamped with its Message-ID
    (`<digest.FIRST.PERSON@domain>`), so a resend after a crash, or a retry, sends the same
    messages under the same Message-ID, whatever else has fallen due meanwhile. A message claimed
    before on its own goes alone again; fresh messages go together per recipient.
    """
    by_key: dict[tuple[str, Any], list[Any]] = {}
    for m in rows:
        if m.message_id.startswith("<digest."):
            key: tuple[str, Any] = ("digest", m.message_id)
        elif m.attempts > 1:  # the claim counted this attempt: it was tried before, alone
            key = ("alone", m.id)
        else:
            key = ("fresh", m.person_id)
        by_key.setdefault(key, []).append(m)
    stamps: dict[int, str] = {}
    for (kind, _), group in by_key.items():
        if kind == "fresh" and len(group) > 1:
            stamps.update(dict.fromkeys((m.id for m in group), digest_message_id(group, mail_from)))
    return list(by_key.values()), stamps


def stamped_together(rows: list[Any]) -> list[list[Any]]:
    """Digest mode off: each message alone, except messages already stamped as one digest (a sweep in
    digest mode claimed them, then stopped or failed): they go together under that Message-ID, as
    they would have, so that one Message-ID never names two different mails."""
    groups: dict[Any, list[Any]] = {}
    for m in rows:
        key = m.message_id if m.message_id.startswith("<digest.") else m.id
        groups.setdefault(key, []).append(m)
    return list(groups.values())


def _transmit(mailer: Any, msg: Message, to_addr: str) -> DeliveryError | None:
    try:
        mailer.send(msg, to_addr)
    except DeliveryError as exc:
        return exc
    return None


_COUNTER = {"sent": "sent", "pending": "retrying", "failed": "failed"}


def record(app: Any, group: list[Any], outcome: Outcome, *, token: str, now: datetime, result: SweepResult,
           transport: str) -> None:
    """The outcome of one message (or a digest) with its audit event, in one transaction."""
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
            counter = _COUNTER[status]
            setattr(result, counter, getattr(result, counter) + 1)
            result.messages.append({"message": m.id, "reminder": m.reminder_id, "rule": m.rule,
                                    "person_id": m.person_id, "status": status, "error": error,
                                    "message_id": m.message_id})
            log.info("reminder %s (%s) to person #%s: %s%s", m.reminder_id, m.rule, m.person_id, status,
                     f" ({error})" if error else "")
