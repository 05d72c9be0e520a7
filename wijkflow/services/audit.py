"""The auditor's use-cases: verify the chain, pin its head, query the history, time in phase.

Everything here reads; nothing writes. Queries and verification stream: rows are fetched
in batches and handed on one at a time, so a million events need no more memory than ten.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .. import audit, store
from ..app import App
from ..errors import AuditFailed, InvalidInput, NotFound
from ..events import KNOWN_EVENT_TYPES  # a database may hold more (from newer modules): accepted too
from .common import EMAIL_RE, local_iso, local_midnight_utc, parse_date, person_ref

HEX64 = re.compile(r"^[0-9a-f]{64}$")


# --- verification -----------------------------------------------------------------------


def verify(app: App, *, expect_head: str | None = None) -> dict[str, Any]:
    """Recompute the whole chain; AuditFailed (exit 7) names the first event that does not verify."""
    if expect_head is not None:
        expect_head = expect_head.strip().lower()
        if not HEX64.match(expect_head):
            raise InvalidInput("--expect-head takes the 64 hexadecimal characters `wijkflow audit head` printed.")
    with app.db.read() as conn:
        verdict = audit.walk(store.stream_chain(conn), expect_head=expect_head,
                             find_by_hash=lambda h: store.event_id_by_hash(conn, h))
    if not verdict.ok:
        before = f" ({verdict.broken_at - 1} events before it verify)" if verdict.broken_at else ""
        raise AuditFailed(f"The history does not verify: {verdict.problem.rstrip('.')}{before}.")  # type: ignore[union-attr]
    return {"ok": True, "checked": verdict.checked, "head_id": verdict.head_id,
            "head_hash": verdict.head_hash if verdict.checked else None,
            "expected_head_at": verdict.expected_head_at,
            "appended_since_expected": (verdict.head_id - verdict.expected_head_at)
            if verdict.expected_head_at is not None and verdict.head_id is not None else None}


def head(app: App) -> dict[str, Any]:
    with app.db.read() as conn:
        row = store.chain_head(conn)
        count = store.count_events(conn)
    if row is None:
        return {"id": None, "at": None, "hash": audit.GENESIS, "events": 0}
    return {"id": row.id, "at": local_iso(row.at, app.tz), "hash": row.hash, "events": count}


# --- queries ------------------------------------------------------------------------------


def parse_moment(value: str, what: str, tz: ZoneInfo, *, end: bool = False) -> datetime:
    """A local date (whole day) or an ISO date-time, as aware UTC. `end`: the exclusive upper bound."""
    text = (value or "").strip()
    if "T" in text or " " in text:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(f"'{value}' is not a valid {what}; use YYYY-MM-DD or an ISO date-time "
                               "such as 2026-03-01T09:00.") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        return moment.astimezone(UTC) + (timedelta(microseconds=1) if end else timedelta(0))
    day = parse_date(text, what)
    return local_midnight_utc(day + timedelta(days=1) if end else day, tz)


def query(app: App, *, aanpak: str | None = None, wijk: str | None = None, gemeente: str | None = None,
          phase: str | None = None, actor: str | None = None, types: tuple[str, ...] = (),
          since: str | None = None, until: str | None = None) -> Iterator[dict[str, Any]]:
    """Events matching every filter, oldest first, one dict at a time.

    All filters are checked before the first row is produced, so bad input fails with a
    clear error and no partial output.
    """
    with app.db.read() as conn:
        filters, people, labels = resolve_filters(conn, app, aanpak=aanpak, wijk=wijk, gemeente=gemeente,
                                                  phase=phase, actor=actor, types=types, since=since, until=until)
        for row in store.query_events(conn, **filters):
            yield event_view(row, people, labels, app.tz)


def resolve_filters(conn: Any, app: App, *, aanpak: str | None = None, wijk: str | None = None,
                    gemeente: str | None = None, phase: str | None = None, actor: str | None = None,
                    types: tuple[str, ...] = (), since: str | None = None,
                    until: str | None = None) -> tuple[dict[str, Any], _PeopleRefs, dict[str, str]]:
    """Check every filter (clear errors, before any output); store.query_events' arguments, people, labels."""
    tz = app.tz
    start = parse_moment(since, "--since date", tz) if since else None
    stop = parse_moment(until, "--until date", tz, end=True) if until else None
    if start is not None and stop is not None and start >= stop:
        raise InvalidInput(f"--since {since} lies after --until {until}; nothing can match.")
    aanpak_id = store.find_aanpak(conn, aanpak).id if aanpak else None
    if wijk and not store.wijk_exists(conn, wijk):
        raise NotFound(f"No wijkaanpak is in wijk '{wijk}' (`wijkflow list` shows the wijken).")
    if gemeente and not store.gemeente_exists(conn, gemeente):
        raise NotFound(f"No wijkaanpak is in gemeente '{gemeente}' (`wijkflow list` shows them).")
    if phase:
        known_phases = _phase_keys(conn, app.definitions)
        if phase not in known_phases:
            raise NotFound(f"No workflow in this database has a phase '{phase}' "
                           f"(phases: {', '.join(sorted(known_phases)) or 'none yet'}).")
    actor_id = _actor_id(conn, actor) if actor else None
    if types:
        known = set(KNOWN_EVENT_TYPES) | store.event_types(conn)
        unknown = [t for t in types if t not in known]
        if unknown:
            raise InvalidInput(f"Unknown event type '{unknown[0]}'; use one of {', '.join(sorted(known))}.")
    filters = {"aanpak_id": aanpak_id, "wijk": wijk, "gemeente": gemeente, "phase": phase, "actor_id": actor_id,
               "types": types, "since": start, "until": stop}
    return filters, _PeopleRefs(store.all_people(conn)), _phase_labels(conn, app.definitions)


class _PeopleRefs(dict[int, dict[str, Any] | None]):
    """person_ref's answers, computed once per person rather than once per event."""

    def __init__(self, people: dict[int, Any]) -> None:
        super().__init__()
        self.people = people

    def __missing__(self, person_id: int) -> dict[str, Any] | None:
        ref = person_ref(self.people, person_id)
        self[person_id] = ref
        return ref


def _actor_id(conn: Any, actor: str) -> int:
    text = actor.strip().lstrip("#")
    if text.isdigit():
        if int(text) not in store.all_people(conn):
            raise NotFound(f"No person #{text}.")
        return int(text)
    if not EMAIL_RE.match(text.lower()):
        raise InvalidInput(f"--actor '{actor}' is neither an email address nor a person number.")
    row = store.person_by_email(conn, text)
    if row is None:
        raise NotFound(f"No person with email {text} (a forgotten person is found by number: --actor 12).")
    return int(row.id)


def _phase_keys(conn: Any, definitions: dict[str, Any]) -> set[str]:
    return {p.key for r in store.stored_definitions(conn) for p in store.definition(conn, definitions, r.id).phases}


def _phase_labels(conn: Any, definitions: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for r in store.stored_definitions(conn):
        for p in store.definition(conn, definitions, r.id).phases:
            out.setdefault(p.key, p.label)
    return out


def event_view(row: Any, refs: dict[Any, Any], labels: dict[str, str], tz: ZoneInfo) -> dict[str, Any]:
    """One event as auditors read it: names resolved (or '(forgotten person)'), gate spelled out.

    refs: person id -> person_ref(...) (a _PeopleRefs fills itself in).
    """
    payload = json.loads(row.payload or "{}")
    actor = refs[row.actor_id]
    gate = [{"key": c.get("key"), "label": c.get("label"), "met": c.get("met"), "why": c.get("why"),
             "by": refs[c.get("person_id")], "at": c.get("at"), "evidence": c.get("evidence"),
             "comment": c.get("comment")} for c in payload.get("gate", [])] if "gate" in payload else []
    subject = refs[payload["person_id"]] if payload.get("person_id") else None
    return {
        "id": row.id, "at": local_iso(row.at, tz), "aanpak": row.aanpak_slug, "aanpak_name": row.aanpak_name,
        "wijk": row.aanpak_wijk, "gemeente": row.aanpak_gemeente, "type": row.type,
        # The same person object as everywhere else ({id, email, name}; `history`, gates' `by`).
        "actor": actor,
        "from_phase": row.from_phase, "to_phase": row.to_phase,
        "from_label": labels.get(row.from_phase) if row.from_phase else None,
        "to_label": labels.get(row.to_phase) if row.to_phase else None,
        "reason": row.reason, "evidence": row.evidence, "override": bool(payload.get("override")),
        "gate": gate, "person": subject, "payload": payload, "prev_hash": row.prev_hash, "hash": row.hash,
    }


# --- time in phase ------------------------------------------------------------------------


def _percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (the 'inclusive' method), defined for one value too."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * pct / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def phases(app: App, *, wijk: str | None = None, gemeente: str | None = None,
           aanpak: str | None = None) -> dict[str, Any]:
    """Days spent in each phase per aanpak (from the history), and median / p90 per phase.

    Portfolio statistics count completed stays only (the aanpak left the phase); stays
    still running are reported per aanpak and counted as `ongoing`.
    """
    now = app.now()
    with app.db.read() as conn:
        rows = store.list_aanpakken(conn, wijk=wijk, gemeente=gemeente)
        if aanpak:
            only = store.find_aanpak(conn, aanpak).id
            rows = [r for r in rows if r.id == only]
        elif (wijk or gemeente) and not rows:
            raise NotFound("No wijkaanpak matches " + " and ".join(
                f"{k} '{v}'" for k, v in (("wijk", wijk), ("gemeente", gemeente)) if v) + ".")
        by_id = {r.id: r for r in rows}
        definitions = {r.id: store.definition(conn, app.definitions, r.definition_id) for r in rows}
        stays: dict[int, list[dict[str, Any]]] = {i: [] for i in by_id}
        for e in store.phase_events(conn, list(by_id)):
            own = stays[e.aanpak_id]
            if own:
                own[-1]["until"] = e.at
            start = e.at
            if e.type == "aanpak_created":
                since = json.loads(e.payload or "{}").get("imported_since")
                if since:
                    start = local_midnight_utc(date.fromisoformat(since), app.tz)
            own.append({"phase": e.to_phase, "since": start, "until": None})
    per_aanpak: list[dict[str, Any]] = []
    completed: dict[str, list[float]] = {}
    ongoing: dict[str, int] = {}
    order: list[str] = []
    for aid, row in by_id.items():
        d = definitions[aid]
        totals: dict[str, dict[str, Any]] = {}
        for s in stays[aid]:
            end = s["until"] or now
            days = max((end - s["since"]) / timedelta(days=1), 0.0)
            t = totals.setdefault(s["phase"], {"phase": s["phase"], "label": d.phase_label(s["phase"]),
                                                "days": 0.0, "visits": 0, "current": False})
            t["days"] += days
            t["visits"] += 1
            final = bool(d.phase(s["phase"]) and d.phase(s["phase"]).final)  # type: ignore[union-attr]
            if s["until"] is None:
                t["current"] = True
                if not final:
                    ongoing[s["phase"]] = ongoing.get(s["phase"], 0) + 1
            else:
                completed.setdefault(s["phase"], []).append(days)
            if s["phase"] not in order and not final:
                order.append(s["phase"])
        per_aanpak.append({"id": aid, "slug": row.slug, "name": row.name, "wijk": row.wijk,
                           "gemeente": row.gemeente, "phase": row.phase,
                           "phases": [{**t, "days": round(t["days"], 1)} for t in totals.values()]})
    labels: dict[str, str] = {}
    for d in definitions.values():
        for p in d.phases:
            labels.setdefault(p.key, p.label)
    portfolio = []
    for key in sorted(order, key=lambda k: _phase_rank(k, definitions)):
        values = completed.get(key, [])
        portfolio.append({"phase": key, "label": labels.get(key, key), "stays": len(values),
                          "median_days": round(statistics.median(values), 1) if values else None,
                          "p90_days": round(_percentile(values, 90), 1) if values else None,
                          "ongoing": ongoing.get(key, 0)})
    return {"at": local_iso(now, app.tz), "aanpakken": per_aanpak, "portfolio": portfolio}


def _phase_rank(key: str, definitions: dict[int, Any]) -> int:
    for d in definitions.values():
        for i, p in enumerate(d.phases):
            if p.key == key:
                return i
    return 999
