"""`wijkflow import`: a portfolio of running aanpakken from a CSV or YAML file, in ONE transaction.

Every row is tried inside a savepoint of that one transaction, with the same code that
`wijkflow new` and `wijkflow indicator add` run; a bad row is rolled back to its savepoint
and reported with its line number, and the next row is tried. At the end, any bad row
(or --dry-run) rolls the whole transaction back: nothing is written unless every row is
good, and the person sees every bad row at once instead of one per attempt.

CSV columns: name, wijk, gemeente, gemeente_code, wijk_code, buurt_codes, workflow, phase, since,
leader, coordinators, approvers, indicators, baseline_date, target_date. The file may be
`,`- or `;`-separated (Excel in a Dutch locale writes `;`) and UTF-8 (with or without a BOM) or
Windows-1252 (Excel's "CSV (gescheiden door lijstscheidingsteken)"); the report says which was
read. Lists in a cell are separated by `|` (or by `;` inside a quoted cell of a `,` file). A person
is an email address of someone known, or "Name <email>" to add them. Indicators are
catalogue keys: `actieve_bewoners=12->20; veiligheidsbeleving=6.1->7`. A baseline's date is
`baseline_date`, else the row's `since`, else today (CSV and YAML alike).

Importing is idempotent (import_keys.py): a row whose aanpak exists (by `ref`, else by gemeente,
wijk and name) is `unchanged` when equal, a `conflict` when not (nothing written, exit 2) unless
`update=True` applies the differences; two rows for one aanpak in one file are refused.
YAML: a list of aanpakken (or `aanpakken:` plus optional `people:`), same field names;
indicators there are mappings (key, label, unit, direction, baseline, baseline_date,
target, target_date), with label/unit/direction taken from the catalogue when omitted.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from .. import store
from ..app import App
from ..areas import make_areas
from ..catalogue import catalogue
from ..definitions import _parse_yaml  # the same line-keeping, duplicate-, alias- and depth-refusing YAML reader
from ..errors import ImportRejected, InvalidInput, NotAllowed, WijkflowError
from ..spreadsheet import decode_text, sniff_separator
from .aanpak import create_aanpak_in
from .common import Context, actor, clean_email, clean_name, load
from .import_keys import Difference, KeyIndex, describe_key, differences, norm, row_key, summary
from .indicators import add_indicator_in

FIELDS = {"name", "wijk", "gemeente", "gemeente_code", "wijk_code", "buurt_codes", "workflow", "phase", "since",
          "leader", "coordinators", "approvers", "indicators", "baseline_date", "target_date", "ref"}
INDICATOR_FIELDS = {"key", "label", "unit", "direction", "baseline", "baseline_date", "target", "target_date"}
# Within a cell: `|` (safe in a `;`-separated file), or `;` inside a quoted cell.
LIST_SEPARATOR = re.compile(r"[|;]")
PERSON_RE = re.compile(r"^\s*(?P<name>[^<>]+?)\s*<(?P<email>[^<>]+)>\s*$")
CSV_INDICATOR_RE = re.compile(r"^(?P<key>[a-z][a-z0-9_]*)\s*(=\s*(?P<base>[^-]*?)\s*(->\s*(?P<target>.*?))?)?\s*$")
# A YAML portfolio is read whole into memory as nodes, some 100 bytes of memory per byte of text:
# at most 4 MB of it (about 17,000 one-line aanpakken; measured ~400 MB and ~20 s to read).
# A larger portfolio goes in as CSV.
MAX_YAML_BYTES = 4 << 20


class _DryRunDone(Exception):
    """Raised inside the transaction to roll back a successful dry run."""


def read_rows(path: str | Path, read_as: dict[str, str] | None = None) -> list[tuple[int, dict[str, Any]]]:
    """(line number, row) per aanpak in the file. `read_as` is filled with the encoding (and for CSV
    the separator) the file was read with."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml"):
        raise InvalidInput(f"{path}: import reads .csv, .yaml or .yml files.")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file.") from None
    except OSError as e:
        raise InvalidInput(f"{path} cannot be read ({e}).") from None
    read_as = read_as if read_as is not None else {}
    if suffix == ".csv":
        text, read_as["encoding"] = decode_text(data, str(path))
        read_as["separator"] = sniff_separator(text)
        return _csv_rows(text, str(path), read_as["separator"])
    try:
        text, read_as["encoding"] = data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError as e:
        raise InvalidInput(f"{path} cannot be read ({e}).") from None
    return _yaml_rows(text, str(path))


def _csv_rows(text: str, file: str, separator: str = ",") -> list[tuple[int, dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text), delimiter=separator)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput(f"{file} is empty.") from None
    columns = [h.strip().lower() for h in header]
    unknown = [c for c in columns if c not in FIELDS]
    if unknown:
        raise InvalidInput(f"{file}, line 1: unknown column(s) {', '.join(unknown)}; "
                           f"known: {', '.join(sorted(FIELDS))}.")
    rows = []
    line = reader.line_num
    for record in reader:
        start, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(columns):
            rows.append((start, {"__error__": f"{len(record)} cells where the header has {len(columns)}"}))
            continue
        row: dict[str, Any] = {c: v.strip() for c, v in zip(columns, record, strict=True) if v.strip()}
        row["__csv__"] = True
        rows.append((start, row))
    return rows


def _yaml_rows(text: str, file: str) -> list[tuple[int, dict[str, Any]]]:
    if len(text) > MAX_YAML_BYTES:
        raise InvalidInput(f"{file} is larger than {MAX_YAML_BYTES:,} characters, the most wijkflow reads "
                           "as YAML; import a portfolio that large as CSV.")
    data, lines = _parse_yaml(text, file)
    prefix: tuple[Any, ...] = ()
    people: list[Any] = []
    if isinstance(data, dict):
        extra = set(data) - {"aanpakken", "people"}
        if extra:
            raise InvalidInput(f"{file}: unknown top-level key(s) {', '.join(map(str, extra))}; "
                               "use aanpakken (and people).")
        people = data.get("people") or []
        data, prefix = data.get("aanpakken"), ("aanpakken",)
    if not isinstance(data, list):
        raise InvalidInput(f"{file}: expected a list of aanpakken (or a mapping with 'aanpakken:').")
    rows: list[tuple[int, dict[str, Any]]] = []
    if not isinstance(people, list):
        raise InvalidInput(f"{file}, line {lines.get(('people',))}: people must be a list.")
    for i, p in enumerate(people):
        rows.append((lines.get(("people", i), 0), {"__person__": p}))
    for i, row in enumerate(data):
        line = lines.get((*prefix, i), 0)
        rows.append((line, row if isinstance(row, dict) else {"__error__": "an aanpak must be a mapping"}))
    return rows


def import_portfolio(app: App, path: str | Path, *, dry_run: bool = False, update: bool = False,
                     acting: str | None, on_row: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    file = str(path)
    read_as: dict[str, str] = {}
    rows = read_rows(path, read_as)
    aanpakken = [r for r in rows if "__person__" not in r[1]]
    if not aanpakken:
        raise InvalidInput(f"{file} has no aanpakken to import.")
    problems: list[tuple[int, str]] = []
    created: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    people_added: list[str] = []
    report: dict[str, Any] = {}
    seen: dict[tuple[str, ...], int] = {}
    try:
        with app.db.write() as conn:
            who = actor(conn, acting)
            index = KeyIndex.read(conn)
            for n, (line, row) in enumerate(rows, start=1):
                savepoint = conn.begin_nested()
                try:
                    if "__person__" in row:
                        added = _person_entry(conn, app, row["__person__"], who)
                        people_added += [added] if added else []
                    else:
                        result = _keyed_row(conn, app, row, line, who, acting, people_added, index, seen,
                                            update=update, dry_run=dry_run)
                        results.append(result)
                        if result["status"] == "new":
                            created.append({k: v for k, v in result.items() if k != "status"})
                        if result["status"] == "conflict" and not dry_run:
                            problems.append((line, result["why"]))
                    savepoint.commit()
                except NotAllowed:
                    raise  # not a bad row but a refusal: the whole import stops, nothing is written
                except WijkflowError as e:
                    savepoint.rollback()
                    problems.append((line, str(e)))
                except sa_exc.IntegrityError as e:
                    savepoint.rollback()
                    problems.append((line, f"conflicts with data already stored ({str(e.orig).splitlines()[0]})"))
                if on_row:
                    on_row(n, len(rows))
            if problems:
                raise ImportRejected(file=file, problems=problems, rows=len(aanpakken))
            counts = {status: sum(1 for r in results if r["status"] == status)
                      for status in ("new", "unchanged", "updated", "conflict")}
            report = {"file": file, "dry_run": dry_run, "rows": len(aanpakken), "created": created,
                      "people_added": people_added, "results": results, "counts": counts, "read_as": read_as}
            if dry_run:
                raise _DryRunDone
    except _DryRunDone:
        pass
    return report


def _many(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return [v.strip() for v in LIST_SEPARATOR.split(str(value)) if v.strip()]


def _person_entry(conn: sa.Connection, app: App, entry: Any, who: Any) -> str | None:
    if not isinstance(entry, dict) or set(entry) - {"email", "name", "locale"}:
        raise InvalidInput("a person needs email and name (and optionally locale nl or en).")
    email = clean_email(entry.get("email"))
    if store.person_by_email(conn, email) is not None:
        return None
    return _add_person(conn, app, email, clean_name(entry.get("name")), entry.get("locale") or "nl", who)


def _add_person(conn: sa.Connection, app: App, email: str, name: str, locale: str, who: Any) -> str:
    if locale not in ("nl", "en"):
        raise InvalidInput(f"locale '{locale}' is not supported; use nl or en.")
    if who.role != "admin" and store.admin_ever_existed(conn):
        # As `people add`: once there has been an administrator, only administrators add people.
        raise NotAllowed(f"Only an administrator may add people, and {email} is not known yet; "
                         "ask an administrator to add them with `wijkflow people add` or to run this import.")
    now = app.now()
    pid = store.insert_person(conn, email=email, name=name, locale=locale, role=None, now=now)
    store.append_event(conn, at=now, type="person_added", actor_id=who.id,
                       payload={"person_id": pid, "locale": locale, "role": None, "imported": True})
    return email


def _person(conn: sa.Connection, app: App, spec: Any, who: Any, added: list[str]) -> str:
    """An email of someone known, or "Name <email>" (added when not known yet)."""
    text = str(spec).strip()
    match = PERSON_RE.match(text)
    if match is None:
        return clean_email(text)
    email = clean_email(match["email"])
    if store.person_by_email(conn, email) is None:
        added.append(_add_person(conn, app, email, clean_name(match["name"]), "nl", who))
    return email


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def _check_row(row: dict[str, Any]) -> None:
    if "__error__" in row:
        raise InvalidInput(row["__error__"])
    unknown = sorted(str(k) for k in row if k not in FIELDS and k != "__csv__")
    if unknown:
        raise InvalidInput(f"unknown field(s) {', '.join(unknown)}")
    for needed in ("name", "wijk", "leader"):
        if not row.get(needed):
            raise InvalidInput(f"'{needed}' is missing")
    if row.get("phase") and not row.get("since"):
        raise InvalidInput("a phase needs its since date (the day the programme entered it)")


def _keyed_row(conn: sa.Connection, app: App, row: dict[str, Any], line: int, who: Any, acting: str | None,
               people_added: list[str], index: KeyIndex, seen: dict[tuple[str, ...], int], *,
               update: bool, dry_run: bool) -> dict[str, Any]:
    """One aanpak row: new, unchanged, updated (with `update`) or a conflict, by its key."""
    _check_row(row)
    key = row_key(row)
    if key in seen:
        raise InvalidInput(f"the same aanpak as line {seen[key]} ({describe_key(key)}); "
                           "each aanpak may appear once in a file")
    seen[key] = line
    existing = index.find(row)
    if existing is None:
        made = _aanpak_row(conn, app, row, who, acting, people_added)
        index.add(_Key(made["id"], made["slug"], made["name"], str(row["wijk"]), str(row.get("gemeente") or ""),
                       str(row["ref"]).strip() if row.get("ref") else None))
        return {"line": line, "status": "new", **{k: v for k, v in made.items() if k != "id"}}
    ctx = load(conn, existing.slug, app.definitions)
    diffs = differences(conn, app, ctx, row, _indicators(row), _many)
    base = {"line": line, "slug": ctx.row.slug, "name": ctx.row.name, "phase": ctx.row.phase,
            "workflow": ctx.definition.ref}
    if not diffs:
        return {**base, "status": "unchanged"}
    fixed = [d for d in diffs if not d.applicable]
    if not update or fixed:
        hint = ("; an import never changes these" if fixed and update
                else "; `--update` applies them" if not fixed else "")
        why = f"conflict with {ctx.row.slug}: {summary(fixed if update else diffs)}{hint}"
        return {**base, "status": "conflict", "why": why, "differences": [d.field for d in diffs]}
    ctx.require_open()
    _apply(conn, app, ctx, row, diffs, who, people_added)
    return {**base, "status": "updated", "differences": [d.field for d in diffs]}


@dataclass(frozen=True)
class _Key:
    id: int
    slug: str
    name: str
    wijk: str
    gemeente: str
    external_ref: str | None


def _apply(conn: sa.Connection, app: App, ctx: Context, row: dict[str, Any], diffs: list[Difference], who: Any,
           people_added: list[str]) -> None:
    """`--update`: the differences as audited changes, each its own event."""
    now = app.now()
    a = ctx.row
    columns = {"name": "name", "wijk": "wijk", "gemeente": "gemeente", "ref": "external_ref"}
    fields = {d.field: d for d in diffs if d.field in columns}
    if fields:
        values = {columns[f]: (clean_name(str(d.given), f) if f in ("name", "wijk") else str(d.given))
                  for f, d in fields.items()}
        store.update_aanpak(conn, a.id, now, **values)
        store.append_event(conn, at=now, type="aanpak_updated", aanpak_id=a.id, actor_id=who.id,
                           payload={"fields": sorted(fields), "imported": True,
                                    "before": {f: d.stored for f, d in fields.items()},
                                    "after": {f: values[columns[f]] for f, d in fields.items()}})
    for d in diffs:
        if d.field in ("projectleider", "coordinator", "approver"):
            spec = next(s for s in _many(row.get({"projectleider": "leader", "coordinator": "coordinators",
                                                   "approver": "approvers"}[d.field]))
                        if norm(d.given) in norm(s))
            target = store.person_by_email(conn, _person(conn, app, spec, who, people_added))
            assert target is not None  # _person added them if they were new
            if store.add_role(conn, a.id, target.id, d.field):
                store.append_event(conn, at=now, type="role_assigned", aanpak_id=a.id, actor_id=who.id,
                                   payload={"person_id": target.id, "role": d.field, "imported": True})
    specs = {str(s.get("key")): s for s in _indicators(row)}
    for key, spec in specs.items():
        parts = [d for d in diffs if d.field.startswith(f"indicator {key}")]
        if not parts:
            continue
        if parts[0].field == f"indicator {key}":
            add_indicator_in(conn, app, ctx, key, label=spec.get("label"), unit=spec.get("unit"),
                             baseline=spec.get("baseline"), target=spec.get("target"),
                             direction=spec.get("direction"), baseline_date=_text(spec.get("baseline_date")),
                             target_date=_text(spec.get("target_date")),
                             from_catalogue=key in catalogue() and not spec.get("label"), who=who, now=now)
            continue
        ind = store.indicator(conn, a.id, key)
        assert ind is not None  # differences() found it
        before = {"baseline": ind.baseline, "target": ind.target}
        after = dict(before)
        for d in parts:
            after[d.field.rsplit(" ", 1)[1]] = d.given
        store.update_indicator(conn, ind.id, **after)
        store.append_event(conn, at=now, type="indicator_updated", aanpak_id=a.id, actor_id=who.id,
                           payload={"key": key, "before": before, "after": after, "imported": True})
    store.touch_aanpak(conn, a.id, now)


def _aanpak_row(conn: sa.Connection, app: App, row: dict[str, Any], who: Any, acting: str | None,
                people_added: list[str]) -> dict[str, Any]:
    leader = _person(conn, app, row["leader"], who, people_added)
    coordinators = tuple(_person(conn, app, p, who, people_added) for p in _many(row.get("coordinators")))
    approvers = tuple(_person(conn, app, p, who, people_added) for p in _many(row.get("approvers")))
    areas = make_areas(gemeente=_text(row.get("gemeente_code")), wijk=_text(row.get("wijk_code")),
                       buurten=[str(b) for b in _many(row.get("buurt_codes"))])
    a = create_aanpak_in(conn, app, str(row["name"]), wijk=str(row["wijk"]), leader=leader, acting=acting,
                         gemeente=_text(row.get("gemeente")), workflow=str(row.get("workflow") or "wijkaanpak"),
                         coordinators=coordinators, approvers=approvers, phase=_text(row.get("phase")),
                         since=_text(row.get("since")), areas=areas,
                         external_ref=str(row["ref"]).strip() if row.get("ref") else None)
    ctx = load(conn, a["slug"], app.definitions)
    for spec in _indicators(row):
        extra = set(spec) - INDICATOR_FIELDS
        if extra:
            raise InvalidInput(f"unknown indicator field(s) {', '.join(sorted(map(str, extra)))}")
        key = str(spec.get("key") or "")
        add_indicator_in(conn, app, ctx, key, label=spec.get("label"), unit=spec.get("unit"),
                         baseline=spec.get("baseline"), target=spec.get("target"), direction=spec.get("direction"),
                         baseline_date=_text(spec.get("baseline_date")), target_date=_text(spec.get("target_date")),
                         from_catalogue=key in catalogue() and not spec.get("label"), who=who, now=app.now())
    return {"id": a["id"], "slug": a["slug"], "name": a["name"], "phase": a["phase"], "workflow": a["workflow"],
            "areas": areas.codes()}


def _indicators(row: dict[str, Any]) -> list[dict[str, Any]]:
    value = row.get("indicators")
    if not row.get("__csv__"):
        specs = value or []
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise InvalidInput("indicators must be a list of mappings with at least a key")
        # As in a CSV row: a baseline without its own date was taken on the row's baseline_date or since.
        day = row.get("baseline_date") or row.get("since")
        return [{**s, "baseline_date": day} if s.get("baseline") is not None and not s.get("baseline_date") and day
                else s for s in specs]
    out = []
    for item in _many(value):
        m = CSV_INDICATOR_RE.match(item)
        if m is None:
            raise InvalidInput(f"indicator '{item}' is not written as key=baseline->target")
        if m["key"] not in catalogue():
            raise InvalidInput(f"indicator '{m['key']}' is not in the catalogue (a CSV row names catalogue "
                               "indicators; use a YAML file for others)")
        spec: dict[str, Any] = {"key": m["key"], "baseline": m["base"] or None, "target": m["target"] or None}
        if spec["baseline"] is not None:
            spec["baseline_date"] = row.get("baseline_date") or row.get("since")
        if spec["target"] is not None and row.get("target_date"):
            spec["target_date"] = row["target_date"]
        out.append(spec)
    return out
