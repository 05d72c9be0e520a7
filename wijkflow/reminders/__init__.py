"""Scheduled reminders by email.

    calendar.py  working days (weekends, Dutch public holidays, closing days) and durations
    schedule.py  reminder occurrences kept in step with the aanpak, inside the caller's transaction
    render.py    Jinja2 templates -> one MIME message per recipient (text + HTML, .ics for deadlines)
    mailers.py   SMTP, an .eml outbox folder, and a memory mailer for tests
    sweep.py     the transactional outbox: claim what is due, send, record the result
    daemon.py    `wijkflow scheduler run`: APScheduler only wakes the sweep up

The database is the only source of truth for what is due; nothing is ever stored as an
APScheduler job.
"""
