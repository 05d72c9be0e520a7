"""CBS area codes: gemeente (GM), wijk (WK) and buurt (BU), checked by their form.

CBS numbers every gemeente, wijk and buurt of its yearly indeling (Wijk- en Buurtkaart):

    GM + 4 digits              GM0164       gemeente Hengelo
    WK + gemeente + 2          WK016401     a wijk in Hengelo
    BU + wijk's 6 + 2          BU01640102   a buurt in that wijk

A gemeente with 100 or more wijken (or a wijk with 100 or more buurten) uses letters in its
last two places (Amsterdam: WK0363AF, BU0363AF03), so those places take digits and capital
letters. Codes are checked by form, never against a list that goes stale with next year's
indeling; the shipped table (data/gemeenten.csv) only says what a gemeente code is called.
A code's digits after the prefix contain those of the areas it lies in, which is how
`consistent` and `list --area` tell what lies in what.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .errors import InvalidInput

GEMEENTEN_FILE = Path(__file__).resolve().parent / "data" / "gemeenten.csv"

FORMS = {
    "GM": re.compile(r"GM[0-9]{4}"),
    "WK": re.compile(r"WK[0-9]{4}[0-9A-Z]{2}"),
    "BU": re.compile(r"BU[0-9]{4}[0-9A-Z]{4}"),
}
KIND = {"GM": "gemeente", "WK": "wijk", "BU": "buurt"}
EXAMPLE = {"GM": "GM0164", "WK": "WK016401", "BU": "BU01640102"}
MAX_BUURTEN = 200


@dataclass(frozen=True)
class Areas:
    """The CBS codes of one aanpak: at most one gemeente and one wijk, any number of buurten."""

    gemeente: str | None = None
    wijk: str | None = None
    buurten: tuple[str, ...] = field(default_factory=tuple)

    def codes(self) -> list[str]:
        return [c for c in (self.gemeente, self.wijk, *self.buurten) if c]

    def __bool__(self) -> bool:
        return bool(self.codes())

    def as_dict(self) -> dict[str, object]:
        return {"gemeente_code": self.gemeente, "gemeente_naam": gemeente_name(self.gemeente),
                "wijk_code": self.wijk, "buurt_codes": list(self.buurten)}

    @classmethod
    def from_codes(cls, codes: list[str]) -> Areas:
        return cls(gemeente=next((c for c in codes if c.startswith("GM")), None),
                   wijk=next((c for c in codes if c.startswith("WK")), None),
                   buurten=tuple(sorted(c for c in codes if c.startswith("BU"))))


def path(code: str) -> str:
    """The code without its prefix: what it shares with the areas it lies in."""
    return code[2:]


def clean_code(value: str, prefix: str, what: str | None = None) -> str:
    """One code of the given kind (GM, WK, BU), upper-cased; refused when its form is wrong."""
    code = (value or "").strip().upper().replace(" ", "")
    if not FORMS[prefix].fullmatch(code):
        raise InvalidInput(f"{what or KIND[prefix] + ' code'} '{value.strip()}' is not a CBS {KIND[prefix]} code "
                           f"({_form(prefix)}, e.g. {EXAMPLE[prefix]}).")
    return code


def _form(prefix: str) -> str:
    return {"GM": "GM and 4 digits", "WK": "WK, the gemeente's 4 digits and 2 digits or capital letters",
            "BU": "BU, the wijk's 6 places and 2 digits or capital letters"}[prefix]


def clean_any(value: str) -> str:
    """A code of any kind (`list --area`), by its prefix."""
    code = (value or "").strip().upper()
    prefix = code[:2]
    if prefix not in FORMS:
        raise InvalidInput(f"Area '{value.strip()}' is not a CBS code: it starts with GM, WK or BU "
                           "(e.g. GM0164, WK016401, BU01640102).")
    return clean_code(code, prefix, "Area")


def make_areas(*, gemeente: str | None = None, wijk: str | None = None,
               buurten: tuple[str, ...] | list[str] = ()) -> Areas:
    """Codes as typed, checked by form and against each other: a wijk lies in the gemeente,
    each buurt in the wijk (or the gemeente). The gemeente code follows from a wijk or buurt when
    it is not given."""
    gm = clean_code(gemeente, "GM") if gemeente else None
    wk = clean_code(wijk, "WK") if wijk else None
    bus = sorted({clean_code(b, "BU") for b in buurten if b and b.strip()})
    if len(bus) > MAX_BUURTEN:
        raise InvalidInput(f"{len(bus)} buurt codes; an aanpak covers at most {MAX_BUURTEN} buurten.")
    if wk and gm and not path(wk).startswith(path(gm)):
        raise InvalidInput(f"Wijk {wk} does not lie in gemeente {gm} (its code starts with WK{path(gm)}).")
    for bu in bus:
        if wk and not path(bu).startswith(path(wk)):
            raise InvalidInput(f"Buurt {bu} does not lie in wijk {wk} (its code starts with BU{path(wk)}).")
        if gm and not path(bu).startswith(path(gm)):
            raise InvalidInput(f"Buurt {bu} does not lie in gemeente {gm} (its code starts with BU{path(gm)}).")
    if bus and not wk and len({path(b)[:4] for b in bus}) > 1:
        raise InvalidInput(f"Buurten {', '.join(bus)} lie in different gemeenten; an aanpak lies in one.")
    if gm is None and (wk or bus):
        gm = "GM" + path(wk or bus[0])[:4]
    return Areas(gemeente=gm, wijk=wk, buurten=tuple(bus))


@cache
def gemeenten() -> dict[str, str]:
    """The shipped table: gemeente code -> name."""
    with GEMEENTEN_FILE.open(encoding="utf-8") as f:
        rows = csv.reader(line for line in f if not line.startswith("#"))
        next(rows)
        return {code: name for code, name in rows}


def gemeente_name(code: str | None) -> str | None:
    return gemeenten().get(code) if code else None


def check_gemeente_name(areas: Areas, name: str | None) -> str | None:
    """The gemeente's name: the one typed, or the table's for its code; refused when they disagree."""
    known = gemeente_name(areas.gemeente)
    if name and known and name.strip().casefold() != known.casefold():
        raise InvalidInput(f"Gemeente code {areas.gemeente} is {known}, not {name.strip()}.")
    return name or known
