"""From an occurrence to an email: Jinja2 templates in notifications/, one message per recipient.

Text and HTML alternatives (HTML autoescaped, StrictUndefined everywhere), Dutch unless the
recipient's locale is `en`, an .ics calendar entry for deadlines, and headers that can never
carry a line break: CR, LF and NUL are folded away before anything reaches a header.
Jinja2 is imported on the first message rendered (`templating.jinja`), icalendar on the first deadline.
"""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime, formataddr, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import templating
from ..errors import DeliveryError, TemplateProblem
from ..validation import EMAIL_RE

_UTF8_QP: Any = Charset("utf-8")  # MIMEText takes a Charset (typeshed says str)
_UTF8_QP.body_encoding = QP  # readable bodies, as EmailMessage.set_content chose
_HEADER_BREAKS = re.compile(r"[\r\n\x00]+")


def notifications_dir() -> Path:
    """The templates that ship with wijkflow: inside the wheel, or the checkout's notifications/."""
    here = Path(__file__).resolve().parent.parent
    packaged = here / "_data" / "notifications"
    return packaged if packaged.is_dir() else here.parent / "notifications"


@lru_cache(maxsize=4)
def environment(directory: str | None = None) -> Any:
    return templating.environment(directory or notifications_dir(), escape=("html",), keep_trailing_newline=True)


@lru_cache(maxsize=256)
def rule_template(source: str) -> Any:
    """Subjects come from the definitions; compiled once each, sandboxed since they are data."""
    jinja2 = templating.jinja()
    return jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined).from_string(source)


def fold_header(value: str) -> str:
    """A header value on one line: CR, LF and NUL runs become one space (no header injection)."""
    return _HEADER_BREAKS.sub(" ", value).strip()


def _render(name: str, context: dict[str, Any]) -> str:
    jinja2 = templating.jinja()
    try:
        return environment().get_template(name).render(context)
    except jinja2.TemplateNotFound as exc:
        raise TemplateProblem(template=name, problem=f"there is no template {exc.name}") from None
    except jinja2.TemplateError as exc:
        raise TemplateProblem(template=name, problem=str(exc)) from None


def _pick(template: str, locale: str, ext: str) -> str:
    name = f"{template}.{locale}.{ext}"
    if locale != "nl" and not (notifications_dir() / name).is_file():
        name = f"{template}.nl.{ext}"  # Dutch is the default when a translation is missing
    return name


@dataclass
class Rendered:
    subject: str
    text: str
    html: str
    ics: bytes | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def render(template: str, locale: str, context: dict[str, Any], subject_template: str) -> Rendered:
    try:
        subject = rule_template(subject_template).render(context)
    except templating.jinja().TemplateError as exc:
        raise TemplateProblem(template=f"{template} (subject '{subject_template}')", problem=str(exc)) from None
    subject = fold_header(subject)
    ctx = {**context, "subject": subject, "locale": locale}
    return Rendered(subject=subject, text=_render(_pick(template, locale, "txt"), ctx),
                    html=_render(_pick(template, locale, "html"), ctx))


@dataclass(frozen=True)
class CalendarEvent:
    """One all-day deadline in a calendar: the same UID with a higher SEQUENCE updates the entry."""

    uid: str
    sequence: int
    day: date
    summary: str
    description: str


def deadline_uid(aanpak_id: int, criterion: str, mail_from: str) -> str:
    """The deadline's calendar UID, unique to this installation (its mail domain)."""
    return f"deadline.{aanpak_id}.{criterion}@{mail_domain(mail_from)}"


def calendar_ics(events: list[CalendarEvent], *, stamp: datetime, method: str = "PUBLISH") -> bytes:
    """A calendar with one all-day VEVENT per deadline; METHOD:CANCEL withdraws them (STATUS:CANCELLED)."""
    from icalendar import Calendar, Event  # heavy (70 ms to import) and only needed for deadline messages

    cal = Calendar()
    cal.add("prodid", "-//wijkflow//herinneringen//NL")
    cal.add("version", "2.0")
    cal.add("method", method)
    for e in events:
        ev = Event()
        ev.add("uid", e.uid)
        ev.add("sequence", e.sequence)
        ev.add("dtstamp", stamp)
        ev.add("dtstart", e.day)
        ev.add("dtend", e.day + timedelta(days=1))
        ev.add("summary", fold_header(e.summary))
        ev.add("description", e.description)
        ev.add("transp", "TRANSPARENT")
        if method == "CANCEL":
            ev.add("status", "CANCELLED")
        cal.add_component(ev)
    return cal.to_ical()


def deadline_ics(*, uid: str, day: date, summary: str, description: str, stamp: datetime,
                 sequence: int = 0) -> bytes:
    """An all-day calendar entry for one deadline (see calendar_ics)."""
    return calendar_ics([CalendarEvent(uid=uid, sequence=sequence, day=day, summary=summary,
                                       description=description)], stamp=stamp)


def check_address(email: str | None) -> str:
    if not email:
        raise DeliveryError("the person has no email address (forgotten or never given)", retryable=False)
    if len(email) > 254 or not EMAIL_RE.match(email) or _HEADER_BREAKS.search(email):
        raise DeliveryError(f"'{fold_header(email)}' is not an email address", retryable=False)
    if not email.isascii():
        raise DeliveryError(f"'{fold_header(email)}' needs SMTPUTF8, which wijkflow does not use", retryable=False)
    return email


def _top_headers(*, mail_from: str, to_name: str | None, to_addr: str, rendered: Rendered, message_id: str,
                 now: datetime, locale: str) -> list[tuple[str, str]]:
    name, addr = parseaddr(fold_header(mail_from))
    return [("From", formataddr((name, addr or fold_header(mail_from)), charset="utf-8")),
            ("To", formataddr((fold_header(to_name or ""), to_addr), charset="utf-8")),
            ("Subject", fold_header(rendered.subject)), ("Date", format_datetime(now)), ("Message-ID", message_id),
            ("Auto-Submitted", "auto-generated"), ("Content-Language", locale)]


def build_message(*, mail_from: str, to_name: str | None, to_addr: str, rendered: Rendered, message_id: str,
                  now: datetime, locale: str) -> Message:
    """One message to one recipient; never several people in To or Cc.

    Built with the email package's classic MIME classes (the compat32 policy smtplib flattens
    with) rather than EmailMessage(policy=SMTP): the header registry parses every header it is
    given, 1.3 ms a message against 0.4 ms here with flattening (benchmarks/mail.py). The wire
    format is standard MIME: UTF-8 quoted-printable bodies, RFC 2047 encoded headers, CRLF on SMTP.
    """
    to_addr = check_address(to_addr)
    msg: Message = MIMEMultipart("alternative", boundary=_boundary(), policy=POLICY)
    msg.attach(MIMEText(rendered.text, "plain", _UTF8_QP, policy=POLICY))
    msg.attach(MIMEText(rendered.html, "html", _UTF8_QP, policy=POLICY))
    if rendered.ics is not None:
        mixed = MIMEMultipart("mixed", boundary=_boundary(), policy=POLICY)
        mixed.attach(msg)
        ics = MIMEText(rendered.ics.decode("utf-8"), "calendar", _UTF8_QP, policy=POLICY)
        ics.set_param("method", _ics_method(rendered.ics))
        ics.add_header("Content-Disposition", "attachment", filename="deadline.ics")
        mixed.attach(ics)
        msg = mixed
    for name, value in _top_headers(mail_from=mail_from, to_name=to_name, to_addr=to_addr, rendered=rendered,
                                    message_id=message_id, now=now, locale=locale):
        msg[name] = value
    return msg


def _boundary() -> str:
    """A MIME boundary that cannot occur in the parts: "=_" is never written by quoted-printable.
    Given here, the generator need not draw one and search every part for it (a third of its time)."""
    return f"=_{uuid.uuid4().hex}"


_PLAIN_HEADER = re.compile(r"[!-~]+(?: [!-~]+)*")


class WirePolicy(Compat32):
    """compat32, the policy smtplib flattens these messages with, minus its cost for the common case.

    compat32 runs every header through email.header.Header to fold it, which was most of the
    generator's time for a message (15 headers, nearly all short plain ASCII). A value of
    printable ASCII words that fits on one line (78 characters with its name) comes out of that
    folding unchanged, so it is written as it is; everything else is folded by compat32.
    tests/test_reminders_wire.py holds the two to the same bytes.
    """

    @staticmethod
    def _plain(name: str, value: Any) -> bool:
        return isinstance(value, str) and len(name) + len(value) <= 76 and bool(_PLAIN_HEADER.fullmatch(value))

    def fold(self, name: str, value: Any) -> str:
        return f"{name}: {value}{self.linesep}" if self._plain(name, value) else super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        if self._plain(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


POLICY = WirePolicy()
_SMTP_WIRE = POLICY.clone(linesep="\r\n")  # what smtplib.send_message flattens with


def wire_bytes(msg: Message) -> bytes:
    """The message as smtplib.send_message puts it on the wire for an ASCII envelope: the email
    package's BytesGenerator with CRLF line ends (for a mailer that sends bytes, the courier)."""
    out = io.BytesIO()
    BytesGenerator(out, policy=_SMTP_WIRE).flatten(msg, linesep="\r\n")
    return out.getvalue()


def _ics_method(ics: bytes) -> str:
    return "CANCEL" if b"\r\nMETHOD:CANCEL\r\n" in ics else "PUBLISH"


def mail_domain(mail_from: str) -> str:
    """The installation's domain, from the sender address (Message-IDs, calendar UIDs)."""
    domain = mail_from.rsplit("@", 1)[-1].strip(" >") if "@" in mail_from else "wijkflow.invalid"
    return re.sub(r"[^A-Za-z0-9.-]", "", domain) or "wijkflow.invalid"


def message_id_for(reminder_id: int, person_id: int, mail_from: str) -> str:
    """Stable per occurrence and recipient: a resend after a crash carries the same Message-ID."""
    return f"<reminder.{reminder_id}.{person_id}@{mail_domain(mail_from)}>"
