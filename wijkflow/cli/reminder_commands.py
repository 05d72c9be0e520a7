"""Reminders by email: the schedule and outbox, sending, the scheduler daemon, mail checks."""

from __future__ import annotations

import click

from . import FORMATS, Flags, cli, open_app, pass_flags
from .render import as_table, emit

LIST_COLUMNS = [("reminder", "#"), ("aanpak", "Aanpak"), ("rule", "Rule"), ("kind", "Kind"), ("due", "Due"),
                ("to", "To"), ("status", "Status"), ("attempts", "Tries"), ("detail", "Detail")]
FAILED_COLUMNS = [("message", "Msg"), ("aanpak", "Aanpak"), ("rule", "Rule"), ("due", "Due"), ("to", "To"),
                  ("attempts", "Tries")]


@cli.group()
def reminders() -> None:
    """Reminder emails: what is scheduled, what went out, what failed; send what is due."""


@reminders.command("list")
@click.option("--due", is_flag=True, help="Only what is due now (what `reminders send` would send).")
@click.option("--until", metavar="DATE", default=None, help="Only what falls due up to and including DATE "
              "(pending, sent, failed or cancelled alike).")
@click.option("--failed", is_flag=True,
              help="Only messages that failed, with the server's answer and how to send them again.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_flags
def reminders_list(flags: Flags, due: bool, until: str | None, failed: bool, fmt: str) -> None:
    """Scheduled reminders and sent messages (one row per recipient once queued)."""
    from ..services.reminders import list_reminders

    app = open_app(flags)
    rows = list_reminders(app, due=due, until=until, failed=failed)

    def short(rs: list[dict]) -> list[dict]:
        # Short local times for people; json and csv keep ISO 8601 with the offset.
        return [{**r, "due": (r["due"] or "")[:16].replace("T", " ")} for r in rs]

    if failed and fmt == "table" and rows:
        click.echo(as_table(short(rows), FAILED_COLUMNS) + "\n\nWhy (the server's last answer):")
        for r in rows:
            click.echo(f"  Msg {r['message']}: {r['detail']}")
        click.echo("\nOnce the cause is fixed, an administrator sends them again at the next sweep with\n"
                   "  wijkflow --as ADMIN-EMAIL reminders retry --failed\nor only some, by their Msg number:\n"
                   "  wijkflow --as ADMIN-EMAIL reminders retry " + " ".join(str(r["message"]) for r in rows[:3]))
        return
    emit(rows, fmt, table=lambda: as_table(short(rows), LIST_COLUMNS) if rows else "No reminders match.")


@reminders.command("retry")
@click.argument("ids", nargs=-1, type=int, metavar="[MSG]...")
@click.option("--failed", is_flag=True, help="Every failed message (instead of naming them).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def reminders_retry(flags: Flags, ids: tuple[int, ...], failed: bool, fmt: str) -> None:
    """Put failed messages back in the outbox, to go at the next sweep (administrators only).

    Fix the cause first (see `wijkflow reminders list --failed`: the server's answer is under
    Detail), then name the messages by their Msg number or pass --failed for all of them. Each
    keeps its Message-ID, starts a fresh count of attempts and is recorded in the history.
    """
    from ..services.reminders import retry_messages

    app = open_app(flags)
    rows = retry_messages(app, ids, failed=failed, acting=app.settings.user)
    if fmt == "json":
        emit(rows, "json")
        return
    click.echo(f"Put {len(rows)} failed message(s) back in the outbox; they go at the next sweep "
               "(`wijkflow reminders send`, or the scheduler).")


@reminders.command("send")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; claim and send nothing.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def reminders_send(flags: Flags, dry_run: bool, fmt: str) -> None:
    """Send every reminder that is due, once (for cron or a systemd timer).

    Exits 1 when any message failed or errored (and will be retried); the counts are printed
    either way.

    Safe to run while `wijkflow scheduler run` runs, or from two machines at once:
    each message is claimed by one sweep only. Cron runs it without --as; auditors may not.
    """
    from ..services.reminders import send_reminders

    app = open_app(flags)
    r = send_reminders(app, dry_run=dry_run, acting=app.settings.user)
    # Cron must see trouble: exit 1 when a message failed for good or errored and waits for a retry.
    trouble = not dry_run and bool(r["failed"] or r["retrying"])
    if fmt == "json":
        emit(r, "json")
        if trouble:
            raise click.exceptions.Exit(1)
        return
    if dry_run:
        would = [m for m in r["messages"] if m["status"] == "would send"]
        click.echo(f"Dry run: {len(would)} message(s) would be sent, {r['cancelled']} reminder(s) cancelled; "
                   "nothing was changed.")
        for m in r["messages"]:
            click.echo(f"  {m['status']}: reminder #{m['reminder']} {m['rule']}"
                       + (f" to person #{m['person_id']} ({m.get('role')})" if m.get("person_id") else "")
                       + (f": {m['error']}" if m.get("error") else ""))
        return
    click.echo(f"Sent {r['sent']} message(s) via {r['transport']}; {r['retrying']} will be retried, "
               f"{r['failed']} failed, {r['cancelled']} reminder(s) cancelled.")
    for m in r["messages"]:
        if m["status"] != "sent":
            click.echo(f"  {m['status']}: reminder #{m['reminder']} {m['rule']} to person #{m['person_id']}: "
                       f"{m['error']}")
    if trouble:
        raise click.exceptions.Exit(1)


@cli.group()
def scheduler() -> None:
    """The reminder daemon."""


@scheduler.command("run")
@click.option("--interval", type=click.FloatRange(min=0.2), default=300, show_default=True,
              help="Seconds between sweeps (it also wakes up when something falls due).")
@click.option("--once", is_flag=True,
              help="Sweep once and exit instead of running on (to check an installation; exits non-zero "
                   "if the sweep fails).")
@pass_flags
def scheduler_run(flags: Flags, interval: float, once: bool) -> None:
    """Send reminders as they fall due, in the foreground (APScheduler); stop with SIGTERM or Ctrl-C.

    Run it under systemd (see README), normally without --as. After downtime, whatever fell
    due meanwhile is sent once.
    """
    import logging

    from ..services.reminders import run_scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    app = open_app(flags)
    run_scheduler(app, interval=interval, once=once, echo=lambda s: click.echo(s, err=True),
                  acting=app.settings.user)


@cli.group()
def mail() -> None:
    """Check email: preview a reminder, send a test message."""


@mail.command("preview")
@click.argument("ref")
@click.argument("rule")
@click.option("--to", "to", metavar="EMAIL", default=None, help="Preview for this person (default: first recipient).")
@click.option("--part", type=click.Choice(["text", "html"]), default="text", show_default=True)
@pass_flags
def mail_preview(flags: Flags, ref: str, rule: str, to: str | None, part: str) -> None:
    """Show the email reminder RULE of wijkaanpak REF would send now. Sends nothing."""
    from ..services.reminders import preview_mail

    app = open_app(flags)
    p = preview_mail(app, ref, rule, to=to)
    click.echo(f"To: {p['to']} ({p['role']}, {p['locale']})\nSubject: {p['subject']}\n")
    click.echo(p[part])


@mail.command("test")
@click.argument("address")
@pass_flags
def mail_test(flags: Flags, address: str) -> None:
    """Send a test message to ADDRESS through the configured SMTP server (or the outbox).

    Administrators only (--as ADMIN-EMAIL): it sends a real message.
    """
    from ..services.reminders import test_mail

    app = open_app(flags)
    r = test_mail(app, address, acting=app.settings.user)
    click.echo(f"Sent a test message to {r['to']} via {r['transport']} (Message-ID {r['message_id']}).")
