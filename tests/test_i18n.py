"""The message catalogue: every marked message has Dutch, with the same placeholders."""

from __future__ import annotations

import string
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import wijkflow
from wijkflow.i18n import LOCALE_DIR, t, tn

KEYWORDS = {"t": (2,), "tn": (2, 3), "N_": None}
PACKAGE = Path(wijkflow.__file__).parent


def _marked() -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(PACKAGE), method_map=[("**.py", "python")], keywords=KEYWORDS):
        key = message if isinstance(message, str) else message[0]
        if key:
            found[key] = (message,) if isinstance(message, str) else tuple(message)
            assert key, f"{filename}:{lineno}"
    return found


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _dutch() -> dict[str, object]:
    with (LOCALE_DIR / "nl" / "LC_MESSAGES" / "wijkflow.po").open("rb") as f:
        catalog = read_po(f)
    return {(m.id if isinstance(m.id, str) else m.id[0]): m for m in catalog if m.id}


def test_every_marked_message_has_a_dutch_translation() -> None:
    dutch = _dutch()
    missing = sorted(k for k in _marked() if k not in dutch or not dutch[k].string)  # type: ignore[attr-defined]
    assert not missing, f"no Dutch in wijkflow/i18n/locales/nl for: {missing[:10]}"


def test_translations_use_the_same_placeholders_as_their_source() -> None:
    wrong = []
    for key, message in _dutch().items():
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)  # type: ignore[attr-defined]
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)  # type: ignore[attr-defined]
        wanted = set().union(*(_placeholders(i) for i in ids))
        for s in strings:
            if s and _placeholders(s) - wanted:
                wrong.append(key)
    assert not wrong, f"translations with placeholders their source does not have: {wrong}"


def test_dutch_and_english_render_with_parameters() -> None:
    assert tn("nl", "{n} criterion is not met", "{n} criteria are not met", 2) == "2 criteria zijn niet voldaan"
    assert tn("nl", "{n} criterion is not met", "{n} criteria are not met", 1) == "1 criterium is niet voldaan"
    assert tn("en", "{n} criterion is not met", "{n} criteria are not met", 1) == "1 criterion is not met"
    assert tn("en-GB", "{n} criterion is not met", "{n} criteria are not met", 3) == "3 criteria are not met"
    # An unknown locale falls back to Dutch, wijkflow's first language; an unknown message stays as written.
    assert tn("fr", "{n} criterion is not met", "{n} criteria are not met", 3) == "3 criteria zijn niet voldaan"
    assert t("nl", "No such message {x}", x=1) == "No such message 1"
