"""Scheduled reminders by email.

    calendar.py  working days (weekends, Dutch public holidays, closing days) and durations
    schedule.py  reminder occurrences kept in step with the aanpak, inside the caller's transaction
    fanout.py    due occurrences -> outbox messages, one per recipient, after a send-time re-check
    compose.py   what a message says (template context, digest, phrases from the catalogue)
    render.py    Jinja2 templates -> one MIME message per recipient (text + HTML, .ics for deadlines)
    mailers.py   SMTP, an .eml outbox folder, and a memory mailer for tests
    courier.py   SMTP pipelined with recording the previous outcome (what benchmarks/mail.py measures)
    sweep.py     the transactional outbox: fan out, claim, compose, send, record; the dry run
    daemon.py    `wijkflow scheduler run`: APScheduler only wakes the sweep up

The database is the only source of truth for what is due; nothing is ever stored as an
APScheduler job.
"""
