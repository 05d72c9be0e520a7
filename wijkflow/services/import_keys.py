"""Which stored aanpak a portfolio row is, and how it differs: what makes `wijkflow import` idempotent.

An aanpak's key is its external id (`ref`: a zaak-id, the municipality's own number) when the row
gives one, else (gemeente, wijk, name). Keys compare trimmed, with inner spaces collapsed and case
folded: `Noord` and `noord ` are one wijk. A row whose aanpak exists is `unchanged` when every
field it gives is equal, else a `conflict` (nothing written, exit 2) unless `--update` applies the
differences that can be applied: name, wijk, gemeente and ref, people's roles, indicators and their
baseline and target, each as an audited change. A phase, start date or workflow that differs is
never changed by an import (phases move through gates; `wijkflow migrate` changes workflows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from .. import store
from ..errors import InvalidInput
from .common import Context, clean_email, local_iso


def norm(value: Any) -> str:
    """How keys compare: trimmed, inner spaces collapsed, case folded."""
    return " ".join(str(value or "").split()).casefold()


def row_key(row: dict[str, Any]) -> tuple[str, ...]:
    if row.get("ref"):
        return ("ref", norm(row["ref"]))
    return ("place", norm(row.get("gemeente")), norm(row.get("wijk")), norm(row.get("name")))


def describe_key(key: tuple[str, ...]) -> str:
    return f"ref {key[1]}" if key[0] == "ref" else "the same gemeente, wijk and name"


@dataclass
class KeyIndex:
    """The stored aanpakken by key, read once per import; rows created by the import are added."""

    by_ref: dict[str, Any] = field(default_factory=dict)
    by_place: dict[tuple[str, ...], Any] = field(default_factory=dict)

    @classmethod
    def read(cls, conn: sa.Connection) -> KeyIndex:
        index = cls()
        for r in store.aanpak_keys(conn):
            index.add(r)
        return index

    def add(self, r: Any) -> None:
        if r.external_ref:
            self.by_ref[norm(r.external_ref)] = r
        self.by_place.setdefault(("place", norm(r.gemeente), norm(r.wijk), norm(r.name)), r)

    def find(self, row: dict[str, Any]) -> Any | None:
        if row.get("ref"):
            found = self.by_ref.get(norm(row["ref"]))
            if found is not None:
                return found
            # An aanpak imported before it had a ref is still the same aanpak.
            same = self.by_place.get(row_key({**row, "ref": None}))
            return same if same is not None and not same.external_ref else None
        return self.by_place.get(row_key(row))


@dataclass
class Difference:
    field: str
    stored: Any
    given: Any
    applicable: bool = True


def _email(spec: Any) -> str:
    text = str(spec).strip()
    if "<" in text and text.endswith(">"):
        text = text[text.rindex("<") + 1:-1]
    return clean_email(text)


def differences(conn: sa.Connection, app: Any, ctx: Context, row: dict[str, Any],
                indicators: list[dict[str, Any]], many: Any) -> list[Difference]:
    """What the row gives that the stored aanpak does not have (fields the row leaves out are not compared)."""
    a, d = ctx.row, ctx.definition
    out: list[Difference] = []
    for name, stored in (("name", a.name), ("wijk", a.wijk), ("gemeente", a.gemeente), ("ref", a.external_ref)):
        given = row.get(name)
        if given not in (None, "") and norm(given) != norm(stored):
            out.append(Difference(name, stored, str(given).strip()))
    workflow = str(row.get("workflow") or "wijkaanpak")
    if not workflow.endswith((".yaml", ".yml")) and workflow != d.name:
        out.append(Difference("workflow", d.name, workflow, applicable=False))
    if row.get("phase") and str(row["phase"]) != a.phase:
        out.append(Difference("phase", a.phase, str(row["phase"]), applicable=False))
    elif row.get("since") and str(row["since"]) != (local_iso(a.phase_since, app.tz) or "")[:10]:
        out.append(Difference("since", (local_iso(a.phase_since, app.tz) or "")[:10], str(row["since"]),
                              applicable=False))
    people = store.people_by_id(conn, {r.person_id for r in ctx.roles})
    for role, column in (("projectleider", "leader"), ("coordinator", "coordinators"), ("approver", "approvers")):
        holders = {people[i].email for i in ctx.holders(role) if i in people and people[i].email}
        for spec in many(row.get(column)):
            email = _email(spec)
            if email not in holders:
                out.append(Difference(role, None, email))
    stored_inds = {i.key: i for i in store.indicators(conn, a.id)}
    for spec in indicators:
        key = str(spec.get("key") or "")
        have = stored_inds.get(key)
        if have is None:
            out.append(Difference(f"indicator {key}", None, "new"))
            continue
        for part in ("baseline", "target"):
            given = spec.get(part)
            if given in (None, ""):
                continue
            try:
                number = float(str(given).replace(",", "."))
            except ValueError:
                raise InvalidInput(f"the {part} of indicator '{key}' ('{given}') is not a number") from None
            if getattr(have, part) != number:
                out.append(Difference(f"indicator {key} {part}", getattr(have, part), number))
    return out


def summary(diffs: list[Difference]) -> str:
    return "; ".join(f"{d.field}: stored {d.stored if d.stored is not None else '(none)'}, file {d.given}"
                     for d in diffs)
