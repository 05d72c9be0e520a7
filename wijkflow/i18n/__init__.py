"""User-facing text in Dutch and English: one gettext message catalogue, kept as `.po` files.

The source text of every message (its msgid) is the English sentence with `{named}`
placeholders; `locales/nl/LC_MESSAGES/wijkflow.po` holds the Dutch. Code never builds a
sentence by hand in two languages: it marks the English and asks for a locale.

    from wijkflow.i18n import N_, t, tn
    REASON = N_("{done} of {needed} days in phase; met from {date}")   # marked, rendered later
    t("nl", REASON, done=82, needed=90, date="2027-02-25")
    tn("en", "{n} criterion is not met", "{n} criteria are not met", n)

English is the msgid itself, so the CLI (plain English) never loads a catalogue; Dutch
(emails, reports, the default locale of people) reads the `.po` file once per process with
Babel, the same tool that extracts and checks it:

    pybabel extract -F babel.cfg -k t:2 -k tn:2,3 -k N_ -o /tmp/wijkflow.pot wijkflow
    pybabel update -i /tmp/wijkflow.pot -d wijkflow/i18n/locales -D wijkflow -l nl --no-fuzzy-matching

`tests/test_i18n.py` fails when a marked message has no Dutch translation or a translation
names other placeholders than its source.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = ("nl", "en")
DEFAULT_LOCALE = "nl"
LOCALE_DIR = Path(__file__).parent / "locales"
DOMAIN = "wijkflow"


class PoTranslations(gettext.NullTranslations):
    """A gettext catalogue read straight from a `.po` file (no compiled `.mo` to keep in step)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        from babel.messages.pofile import read_po  # the one seam: only Dutch text pays for Babel

        with path.open("rb") as f:
            catalog = read_po(f)
        self._singular: dict[str, str] = {}
        self._plural: dict[str, tuple[str, ...]] = {}
        self._plural_rule = catalog.plural_expr
        for message in catalog:
            if not message.id or message.fuzzy:
                continue
            if isinstance(message.id, tuple | list):
                strings = tuple(message.string or ())
                if all(strings):
                    self._plural[message.id[0]] = strings
            elif isinstance(message.string, str) and message.string:
                self._singular[message.id] = message.string
        self._plural_index = _plural_function(self._plural_rule)

    def gettext(self, message: str) -> str:
        return self._singular.get(message, message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        strings = self._plural.get(msgid1)
        if strings is None:
            return msgid1 if n == 1 else msgid2
        return strings[min(self._plural_index(n), len(strings) - 1)]


def _plural_function(expr: str) -> Any:
    return gettext.c2py(expr)  # the stdlib's parser for Plural-Forms


def normal_locale(locale: str | None) -> str:
    """`en`, `en_GB`, `EN-us` -> `en`; anything unknown (or nothing) -> the default, Dutch."""
    lang = (locale or "").replace("-", "_").split("_")[0].lower()
    return lang if lang in LOCALES else DEFAULT_LOCALE


@cache
def catalogue(locale: str) -> gettext.NullTranslations:
    """The shipped catalogue for a locale. Cached per process: the files are part of the package."""
    path = LOCALE_DIR / normal_locale(locale) / "LC_MESSAGES" / f"{DOMAIN}.po"
    return PoTranslations(path) if path.is_file() else gettext.NullTranslations()


def N_(msgid: str) -> str:
    """Marks text for the catalogue where it is defined; it is translated where it is shown (`t`)."""
    return msgid


def t(locale: str | None, msgid: str, /, **params: Any) -> str:
    """The message in the locale, with its `{placeholders}` filled in."""
    text = msgid if normal_locale(locale) == "en" else catalogue(normal_locale(locale)).gettext(msgid)
    return text.format(**params) if params else text


def tn(locale: str | None, singular: str, plural: str, n: int, /, **params: Any) -> str:
    """As `t`, choosing the singular or plural form for `n` (which is also passed as `{n}`)."""
    lang = normal_locale(locale)
    text = (singular if n == 1 else plural) if lang == "en" else catalogue(lang).ngettext(singular, plural, n)
    return text.format(n=n, **params)
