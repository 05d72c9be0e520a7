"""Checking what people type: text, names, email addresses and dates. No database, no services.

Lower layers (the store, reminders) use EMAIL_RE too; every refusal is an InvalidInput
that says how to put it right.
"""

from __future__ import annotations

import re
from datetime import date

from .errors import InvalidInput

MAX_NAME = 200
MAX_TEXT = 4000
EMAIL_RE = re.compile(r"^[^@\s<>\"',;:()\[\]\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def clean_text(value: str | None, what: str, *, max_len: int = MAX_TEXT, required: bool = False,
               multiline: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInput(f"The {what} may not be empty.")
        return None
    value = value.strip()
    if len(value) > max_len:
        raise InvalidInput(f"The {what} is {len(value)} characters long; at most {max_len} are allowed.")
    checked = value.replace("\r\n", "").replace("\n", "").replace("\t", "") if multiline else value
    if _CONTROL.search(checked):
        raise InvalidInput(f"The {what} contains control characters (such as a line break); remove them.")
    return value


def clean_name(value: str | None, what: str = "name") -> str:
    out = clean_text(value, what, max_len=MAX_NAME, required=True)
    assert out is not None
    return out


def clean_email(value: str | None) -> str:
    if value is None or not value.strip():
        raise InvalidInput("An email address is needed.")
    email = value.strip().lower()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise InvalidInput(f"'{value.strip()}' is not an email address.")
    if not email.isascii():
        # Reminders go out without SMTPUTF8 (most municipal mail servers lack it): such an address cannot be reached.
        raise InvalidInput(f"'{value.strip()}' has letters outside ASCII; wijkflow's reminders can only reach "
                           "plain ASCII addresses.")
    return email


def parse_date(value: str | date, what: str = "date") -> date:
    if isinstance(value, date):
        return value
    text = (value or "").strip()
    if not _ISO_DAY.fullmatch(text):
        raise InvalidInput(f"'{value}' is not a valid {what}; use YYYY-MM-DD, e.g. 2026-03-01.")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"'{value}' is not a valid {what}: that day does not exist.") from None
    if not 1900 <= day.year <= 9000:  # days and time zones are added to it: year 1 or 9999 would overflow
        raise InvalidInput(f"'{value}' is not a valid {what}: give a year between 1900 and 9000.")
    return day
