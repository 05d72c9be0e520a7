"""Reminder use-cases: list the schedule and the outbox, send what is due, preview, test mail."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from .. import store
from ..app import App
from ..errors import DeliveryError, InvalidInput, NotFound
from ..i18n import t
from ..reminders.compose import preview
from ..reminders.daemon import run_scheduler as daemon
from ..reminders.mailers import mailer_for
from ..reminders.render import Rendered, build_message, check_address, render
from ..reminders.sweep import sweep
from .audit_log import periodic_checkpoint
from .common import clean_email, load, local_iso, parse_date, person_ref, require_admin, service_actor


def list_reminders(app: App, *, due: bool = False, until: str | None = None,
                   failed: bool = False) -> list[dict[str, Any]]:
    if sum(bool(x) for x in (due, until, failed)) > 1:
        raise InvalidInput("Use only one of --due, --until and --failed.")
    now = app.now()
    limit: datetime | None = None
    status: tuple[str, ...] | None = None
    if until is not None:
        day = parse_date(until, "--until date")
        limit = datetime.combine(day + timedelta(days=1), time(0), tzinfo=app.tz).astimezone(UTC)
        # Whatever falls due up to DATE, whatever became of it: sent and failed ones too.
    elif due:
        limit, status = now, ("pending",)
    elif failed:
        status = ("failed",)
    with app.db.read() as conn:
        rows = store.reminder_overview(conn, status=status)
        people = store.people_by_id(conn, {r.person_id for r in rows if r.person_id})
    out = []
    for r in rows:
        state = r.message_status or r.reminder_status
        when = r.next_attempt_at if r.message_status == "pending" else r.due_at
        if limit is not None and when > limit:
            continue
        who = person_ref(people, r.person_id) if r.person_id else None
        out.append({
            "reminder": r.reminder_id, "message": r.message_pk, "aanpak": r.slug, "rule": r.rule, "kind": r.kind,
            "criterion": r.criterion, "due": local_iso(r.due_at, app.tz), "to": (who or {}).get("email"),
            "role": r.role, "status": state, "attempts": r.attempts or 0,
            "next_attempt": local_iso(r.next_attempt_at, app.tz) if r.message_status == "pending" else None,
            "sent_at": local_iso(r.sent_at, app.tz), "detail": r.error or r.reason,
            "message_id": r.message_id})
    return out


def retry_messages(app: App, ids: tuple[int, ...] = (), *, failed: bool = False,
                   acting: str | None = None) -> list[dict[str, Any]]:
    """Put failed messages back in the outbox (`reminders retry`), once the cause is fixed.

    Administrators only. Each goes out at the next sweep with the Message-ID it had and a fresh
    count of attempts; each requeue is an audit event (the error is in the `reminder_failed` event
    before it; the address it names is not copied into the history again). Either all named
    messages are requeued or, when one cannot be, none is.
    """
    if not ids and not failed:
        raise InvalidInput("Name the messages to retry (the numbers `wijkflow reminders list --failed` shows) "
                           "or pass --failed for every failed message.")
    now = app.now()
    with app.db.write() as conn:
        who = require_admin(conn, acting, "put failed messages back in the outbox")
        rows = store.failed_messages(conn, sorted(set(ids)) if ids else None)
        missing = sorted(set(ids) - {r.id for r in rows})
        if missing:
            raise NotFound(f"Message {missing[0]} is not a failed message; "
                           "`wijkflow reminders list --failed` shows those that are.")
        out = []
        for r in rows:
            store.requeue_message(conn, r.id, now=now)
            store.append_event(conn, at=now, type="reminder_requeued", aanpak_id=r.aanpak_id, actor_id=who.id,
                               payload={"reminder_id": r.reminder_id, "message": r.id, "person_id": r.person_id,
                                        "rule": r.rule, "message_id": r.message_id, "attempts": r.attempts})
            out.append({"message": r.id, "reminder": r.reminder_id, "rule": r.rule, "message_id": r.message_id,
                        "error": r.error})
    return out


def check_service_run(app: App, acting: str | None) -> None:
    """The sweep is the service's own job (cron, systemd: no --as); a named auditor is refused."""
    with app.db.read() as conn:
        service_actor(conn, acting)


def send_reminders(app: App, *, dry_run: bool = False, mailer: Any = None,
                   acting: str | None = None) -> dict[str, Any]:
    check_service_run(app, acting)
    return sweep(app, mailer=mailer, dry_run=dry_run).as_dict()


def run_scheduler(app: App, *, interval: float = 300, once: bool = False, echo: Any = print,
                  acting: str | None = None) -> Any:
    """`wijkflow scheduler run`: the daemon (or one sweep with once=True), after the same check."""
    check_service_run(app, acting)

    def checkpoint() -> None:
        made = periodic_checkpoint(app)
        if made is not None:
            mailed = f", mailed to {made['mailed_to']}" if made.get("mailed_to") else ""
            failed = f"; mailing it failed: {made['mail_error']}" if made.get("mail_error") else ""
            echo(f"audit checkpoint: {made['size']} events signed{mailed}{failed}")

    return daemon(app, interval=interval, once=once, echo=echo, after_sweep=checkpoint)


def preview_mail(app: App, ref: str, rule_key: str, *, to: str | None = None) -> dict[str, Any]:
    """The message a rule would send now to one recipient (the first holder of its roles, or --to)."""
    now = app.now()
    with app.db.read() as conn:
        ctx = load(conn, ref, app.definitions)
        rule = next((r for r in ctx.definition.reminders if r.key == rule_key), None)
        if rule is None:
            known = ", ".join(r.key for r in ctx.definition.reminders) or "none"
            raise NotFound(f"Workflow {ctx.definition.ref} has no reminder rule '{rule_key}' (rules: {known}).")
        holders = [(pid, role) for role in rule.to for pid in sorted(ctx.holders(role))]
        if to is not None:
            target = store.person_by_email(conn, clean_email(to))
            if target is None:
                raise NotFound(f"No person with email {to.strip()}.")
            role = next((role for pid, role in holders if pid == target.id), rule.to[0])
        elif holders:
            target = store.people_by_id(conn, {holders[0][0]})[holders[0][0]]
            role = holders[0][1]
        else:
            raise NotFound(f"Nobody holds the role {' or '.join(rule.to)} on {ctx.row.name}; "
                           "pass --to EMAIL to preview for someone else.")
        if rule.kind == "before" and not any(
                c in store.deadlines(conn, ctx.row.id) for c in (rule.criteria or ctx.definition.criteria)):
            raise InvalidInput(f"Reminder '{rule.key}' is about deadlines and {ctx.row.name} has none yet; "
                               f"set one with `wijkflow deadline {ctx.row.slug} CRITERION DATE`.")
        rendered = preview(conn, app, aanpak_id=ctx.row.id, rule=rule, person=target, role=role, now=now)
    return {"aanpak": ctx.row.slug, "rule": rule.key, "to": target.email, "locale": target.locale,
            "role": role, "subject": rendered.subject, "text": rendered.text, "html": rendered.html}


def test_mail(app: App, address: str, *, acting: str | None = None) -> dict[str, Any]:
    """Send one test message through the configured transport; raises DeliveryError if it does not go.

    Administrators only: it sends a real message from the municipality's sender address to any
    address. It changes nothing in the database, so it writes no event.
    """
    try:
        to = check_address(address.strip())
    except DeliveryError as exc:
        raise InvalidInput(f"{exc}.") from None
    with app.db.read() as conn:
        require_admin(conn, acting, "send a test message")
    now = app.now()
    mailer = mailer_for(app.settings)
    context = {"sent_at": now.astimezone(app.tz).strftime("%d-%m-%Y %H:%M"), "transport": mailer.transport}
    rendered: Rendered = render("test", "nl", context, t("nl", "wijkflow test message"))
    stamp = now.strftime("%Y%m%d%H%M%S")
    domain = app.settings.mail_from.rsplit("@", 1)[-1].strip(" >") or "wijkflow.invalid"
    msg = build_message(mail_from=app.settings.mail_from, to_name=None, to_addr=to, rendered=rendered,
                        message_id=f"<test.{stamp}@{domain}>", now=now, locale="nl")
    try:
        mailer.send(msg, to)
    finally:
        mailer.close()
    return {"to": to, "transport": mailer.transport, "message_id": msg["Message-ID"]}
