"""From an occurrence to an email: Jinja2 templates in notifications/, one message per recipient.

Text and HTML alternatives (HTML autoescaped, StrictUndefined everywhere), Dutch unless the
recipient's locale is `en`, an .ics calendar entry for deadlines, and headers that can never
carry a line break: CR, LF and NUL are folded away before anything reaches a header.
"""

from __future__ import annotations

import email.quoprimime
import random
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.charset import QP, Charset
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

MONTHS = {
    "nl": ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
           "oktober", "november", "december"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"],
}
ROLE_LABELS = {
    "nl": {"projectleider": "projectleider", "coordinator": "wijkregisseur / coördinator",
           "approver": "lid van de stuurgroep"},
    "en": {"projectleider": "project leader", "coordinator": "coordinator (wijkregisseur)",
           "approver": "steering group member"},
}
_UTF8_QP = Charset("utf-8")
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
def _subject_template(source: str) -> Any:
    """Subjects come from the definitions; compiled once each, sandboxed since they are data."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined).from_string(source)


def long_date(day: date, locale: str) -> str:
    return f"{day.day} {MONTHS.get(locale, MONTHS['nl'])[day.month - 1]} {day.year}"


def fold_header(value: str) -> str:
    """A header value on one line: CR, LF and NUL runs become one space (no header injection)."""
    return _HEADER_BREAKS.sub(" ", value).strip()


def _render(name: str, context: dict[str, Any]) -> str:
    from jinja2 import TemplateError, TemplateNotFound

    env = environment()
    try:
        return env.get_template(name).render(context)
    except TemplateNotFound as exc:
        raise TemplateProblem(template=name, problem=f"there is no template {exc.name}") from None
    except TemplateError as exc:
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
    from jinja2 import TemplateError

    try:
        subject = _subject_template(subject_template).render(context)
    except TemplateError as exc:
        raise TemplateProblem(template=f"{template} (subject '{subject_template}')", problem=str(exc)) from None
    subject = fold_header(subject)
    ctx = {**context, "subject": subject, "locale": locale}
    return Rendered(subject=subject, text=_render(_pick(template, locale, "txt"), ctx),
                    html=_render(_pick(template, locale, "html"), ctx))


def deadline_ics(*, uid: str, day: date, summary: str, description: str, stamp: datetime) -> bytes:
    """An all-day calendar entry for the deadline; the same UID updates the entry if it moves."""
    from icalendar import Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//wijkflow//herinneringen//NL")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    ev = Event()
    ev.add("uid", uid)
    ev.add("dtstamp", stamp)
    ev.add("dtstart", day)
    ev.add("dtend", day + timedelta(days=1))
    ev.add("summary", fold_header(summary))
    ev.add("description", description)
    ev.add("transp", "TRANSPARENT")
    cal.add_component(ev)
    return cal.to_ical()


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
            ("Subject", rendered.subject), ("Date", format_datetime(now)), ("Message-ID", message_id),
            ("Auto-Submitted", "auto-generated"), ("Content-Language", locale)]


def build_message(*, mail_from: str, to_name: str | None, to_addr: str, rendered: Rendered, message_id: str,
                  now: datetime, locale: str) -> Message:
    """One message to one recipient; never several people in To or Cc.

    Built with the classic MIME classes rather than EmailMessage(policy=SMTP): the header
    registry parses every header it is given and made up most of a sweep's time per message
    (2.5 ms against 0.7 ms here, measured by benchmarks/mail.py). The wire format is the same
    standard MIME: UTF-8 quoted-printable bodies, RFC 2047 encoded headers, CRLF on SMTP.
    """
    to_addr = check_address(to_addr)
    msg: Message = MIMEMultipart("alternative")
    msg.attach(MIMEText(rendered.text, "plain", _UTF8_QP))
    msg.attach(MIMEText(rendered.html, "html", _UTF8_QP))
    if rendered.ics is not None:
        mixed = MIMEMultipart("mixed")
        mixed.attach(msg)
        ics = MIMEText(rendered.ics.decode("utf-8"), "calendar", _UTF8_QP)
        ics.set_param("method", "PUBLISH")
        ics.add_header("Content-Disposition", "attachment", filename="deadline.ics")
        mixed.attach(ics)
        msg = mixed
    for name, value in _top_headers(mail_from=mail_from, to_name=to_name, to_addr=to_addr, rendered=rendered,
                                    message_id=message_id, now=now, locale=locale):
        msg[name] = value
    return msg


# --- the same message as bytes, without the email package's object tree ----------------------
#
# build_message(...) flattened by smtplib.send_message (BytesGenerator, compat32, CRLF) spends
# more time folding headers that need no folding and compiling a regular expression per random
# boundary than on anything else. message_bytes writes that very output directly: the parts in
# the generator's order and layout, the bodies through the same quoted-printable encoder, every
# header that is not a short plain ASCII line through the same compat32 folding. A test holds
# the two byte for byte (tests/test_reminders_wire.py).

_SMTP_COMPAT32 = Compat32().clone(linesep="\r\n")
_PLAIN_HEADER = re.compile(r"[!-~]+(?: [!-~]+)*")
_FROM_LINE = re.compile(r"^From ", re.MULTILINE)
_NEWLINES = re.compile(r"\r\n|\r|\n")
_BOUNDARY_WIDTH = len(repr(sys.maxsize - 1))


def _header(name: str, value: str) -> bytes:
    if len(name) + len(value) <= 76 and _PLAIN_HEADER.fullmatch(value):  # at most 78 characters a line
        return f"{name}: {value}\r\n".encode("ascii")  # what compat32 folding gives such a line
    return _SMTP_COMPAT32.fold_binary(name, value)


@lru_cache(maxsize=4096)
def _qp_line(line: str) -> bytes:
    """One line of a body (UTF-8 bytes as latin-1 text, no line break) as the generator writes it:
    quoted-printable with soft breaks, 'From ' mangled at every line start, CRLF.

    Quoted-printable encodes each line on its own (CR and LF are its only line breaks), so a body
    is its lines encoded one by one; most lines of a template's output recur in every message.
    """
    encoded = email.quoprimime.body_encode(line) if line else line
    return _NEWLINES.sub("\r\n", _FROM_LINE.sub(">From ", encoded)).encode("ascii")


def _qp_part(headers: list[tuple[str, str]], text: str) -> bytes:
    """A MIMEText(text, subtype, utf-8 quoted-printable) part as the generator writes it."""
    lines = _NEWLINES.split(text.encode("utf-8").decode("latin-1")) if text else []
    return b"".join(_header(n, v) for n, v in headers) + b"\r\n" + b"\r\n".join(map(_qp_line, lines))


def _multipart(subtype: str, parts: list[bytes], top: Sequence[tuple[str, str]] = ()) -> bytes:
    joined = b"\r\n".join(parts)
    while True:  # the generator's boundary format; one that occurs in the parts is drawn again
        boundary = "=" * 15 + f"{random.randrange(sys.maxsize):0{_BOUNDARY_WIDTH}d}" + "=="
        if boundary.encode("ascii") not in joined:
            break
    dash = f"--{boundary}".encode("ascii")
    head = [("Content-Type", f'multipart/{subtype}; boundary="{boundary}"'), ("MIME-Version", "1.0"), *top]
    return b"".join(
        [*(_header(n, v) for n, v in head), b"\r\n", dash, b"\r\n",
         (b"\r\n" + dash + b"\r\n").join(parts), b"\r\n", dash, b"--\r\n"])


def message_bytes(*, mail_from: str, to_name: str | None, to_addr: str, rendered: Rendered, message_id: str,
                  now: datetime, locale: str) -> bytes:
    """Exactly the bytes smtplib.send_message sends for build_message(...) with the same arguments
    (boundaries aside, which are random), at a fraction of the cost. For an ASCII envelope only:
    a non-ASCII address makes smtplib switch to SMTPUTF8 and a different serialisation."""
    to_addr = check_address(to_addr)
    top = _top_headers(mail_from=mail_from, to_name=to_name, to_addr=to_addr, rendered=rendered,
                       message_id=message_id, now=now, locale=locale)
    text_headers = [("MIME-Version", "1.0"), ("Content-Transfer-Encoding", "quoted-printable")]
    alternatives = [_qp_part([("Content-Type", f'text/{sub}; charset="utf-8"'), *text_headers], body)
                    for sub, body in (("plain", rendered.text), ("html", rendered.html))]
    if rendered.ics is None:
        return _multipart("alternative", alternatives, top)
    ics = _qp_part([*text_headers, ("Content-Type", 'text/calendar; charset="utf-8"; method="PUBLISH"'),
                    ("Content-Disposition", 'attachment; filename="deadline.ics"')], rendered.ics.decode("utf-8"))
    return _multipart("mixed", [_multipart("alternative", alternatives), ics], top)


def message_id_for(reminder_id: int, person_id: int, mail_from: str) -> str:
    """Stable per occurrence and recipient: a resend after a crash carries the same Message-ID."""
    domain = mail_from.rsplit("@", 1)[-1].strip(" >") if "@" in mail_from else "wijkflow.invalid"
    domain = re.sub(r"[^A-Za-z0-9.-]", "", domain) or "wijkflow.invalid"
    return f"<reminder.{reminder_id}.{person_id}@{domain}>"
