"""The auditor's use-cases: verify the chain, pin its head, query the history, time in phase.

Everything here reads; nothing writes. Queries and verification stream: rows are fetched
in batches and handed on one at a time, so a million events need no more memory than ten.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .. import audit, merkle, store
from ..app import App
from ..audit_format import canonical_bytes, stored_committed, utc_text
from ..errors import AuditFailed, InvalidInput, NotFound
from ..events import KNOWN_EVENT_TYPES  # a database may hold more (from newer modules): accepted too
from ..merkle import leaf_hash
from . import audit_log
from .common import EMAIL_RE, local_iso, local_midnight_utc, origin_of, parse_date, person_ref
from .filters import resolve as resolve_filters_of

HEX64 = re.compile(r"^[0-9a-f]{64}$")


# --- verification -----------------------------------------------------------------------


def verify(app: App, *, expect_head: str | None = None, checkpoint: str | None = None) -> dict[str, Any]:
    """Check every stored event and recompute the chain and the Merkle tree; AuditFailed (exit 7) names
    the first event that does not verify.

    `expect_head`: a chain head kept earlier must still be in the chain. `checkpoint`: the text of a
    signed checkpoint kept earlier: genuine, this log's, and the tree of its first N events unchanged.
    Checkpoints stored in the database are checked the same way. Constant memory.
    """
    if expect_head is not None:
        expect_head = expect_head.strip().lower()
        if not HEX64.match(expect_head):
            raise InvalidInput("--expect-head takes the 64 hexadecimal characters `wijkflow audit head` printed.")
    app.db.check_integrity()  # a damaged file can hold a chain that verifies: refuse it first
    with app.db.read() as conn:
        kept = audit_log.check_note(conn, checkpoint) if checkpoint is not None else None
        stored = {c.size: c for c in store.checkpoints(conn)}
        tree = merkle.TreeHasher()
        roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT}
        wanted = set(stored) | ({kept.size} if kept else set())
        forged: list[int] = []  # events whose leaf does not match: reported once the chain has had its say
        erasure = _Erasure()
        with closing(store.stream_stored(conn)) as rows:
            try:
                verdict = audit.walk(_checked(rows, tree, roots, wanted, forged, erasure), expect_head=expect_head,
                                     find_by_hash=lambda h: store.event_id_by_hash(conn, h))
            except audit.StoredWrong as exc:
                raise AuditFailed(f"The history does not verify: {str(exc).rstrip('.')}.") from None
        if not verdict.ok:
            before = f" ({verdict.broken_at - 1} events before it verify)" if verdict.broken_at else ""
            raise AuditFailed(f"The history does not verify: {verdict.problem.rstrip('.')}{before}.")  # type: ignore[union-attr]
        if forged:
            raise AuditFailed(f"The history does not verify: Event #{forged[0]} was edited or forged: its content "
                              f"does not match its leaf hash ({forged[0] - 1} events before it verify).")
        unpurged = erasure.unrecorded()
        if unpurged is not None:
            raise AuditFailed(f"The history does not verify: Event #{unpurged}'s content was erased, but no "
                              "`audit purge` recorded after it covers that.")
        for size, row in sorted(stored.items()):
            _check_root(f"The checkpoint stored as #{row.id}", size, bytes.fromhex(row.root), roots, tree.size)
            audit_log.check_note(conn, row.note, f"checkpoint stored as #{row.id}")
    if kept is not None:
        _check_root("The checkpoint you kept", kept.size, kept.root, roots, tree.size)
    return {"ok": True, "checked": verdict.checked, "head_id": verdict.head_id,
            "head_hash": verdict.head_hash if verdict.checked else None,
            "root": tree.root().hex(), "tree_size": tree.size,
            "expected_head_at": verdict.expected_head_at,
            "appended_since_expected": (verdict.head_id - verdict.expected_head_at)
            if verdict.expected_head_at is not None and verdict.head_id is not None else None,
            "checkpoint_size": kept.size if kept else None,
            "appended_since_checkpoint": tree.size - kept.size if kept else None}


class _Erasure:
    """Erased content must be covered by a purge recorded after it: the latest erased event, the latest cutoff."""

    def __init__(self) -> None:
        self.last: tuple[str, int] | None = None  # (at_z, id) of the latest erased event
        self.cutoff = ""  # the latest purge's `before` moment (UTC, canonical text)

    def see(self, event: dict[str, Any]) -> None:
        if event["erased"] is not None and (self.last is None or event["at_z"] >= self.last[0]):
            self.last = (event["at_z"], event["id"])
        if event["type"] == "audit_purged" and event["erased"] is None:
            try:
                before = json.loads(event["payload"]).get("before_utc")
            except (ValueError, AttributeError):  # not what wijkflow writes: its leaf says so
                before = None
            if isinstance(before, str):
                self.cutoff = max(self.cutoff, before)

    def unrecorded(self) -> int | None:
        return self.last[1] if self.last is not None and not self.last[0] < self.cutoff else None


def _checked(rows: Iterator[Any], tree: merkle.TreeHasher, roots: dict[int, bytes], wanted: set[int],
             forged: list[int], erasure: _Erasure) -> Iterator[Any]:
    """The stored rows as the chain walk reads them, each checked for types and canonical forms; each leaf
    recomputed (the first mismatch noted in `forged`) and added to `tree`; the roots at the `wanted` sizes."""
    for raw in rows:
        event = audit.stored_event(raw)
        yield event
        try:
            obj = stored_committed(event, at=event["at_z"])
        except ValueError:
            raise audit.StoredWrong(event["id"], "its record of erased content is not what `audit purge` writes") \
                from None
        if not forged and event["leaf"] != leaf_hash(canonical_bytes(obj)).hex():
            forged.append(event["id"])
        if event["erased"] is not None or event["type"] == "audit_purged":
            erasure.see(event)
        tree.add(bytes.fromhex(event["leaf"]))
        if tree.size in wanted:
            roots[tree.size] = tree.root()


def _check_root(what: str, size: int, root: bytes, roots: dict[int, bytes], events: int) -> None:
    if size > events:
        raise AuditFailed(f"The history does not verify: {what} covers {size} events, but only {events} are left: "
                          "events were cut off the end.")
    if roots.get(size) != root:
        raise AuditFailed(f"The history does not verify: {what} does not match the first {size} events: they "
                          "were rewritten after it was signed.")


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
    # One check for list and audit query: a phase by key or Dutch label, any case (services/filters.py).
    phase = resolve_filters_of(conn, app.definitions, phase=phase, wijk=wijk, gemeente=gemeente)
    actor_id = _actor_id(conn, actor) if actor else None
    if types:
        # Every type wijkflow writes (events.py) is valid before any such event happened.
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
        "aanpak_id": row.aanpak_id, "at_utc": utc_text(row.at), "leaf": row.leaf,
        # Where the change came from (provenance.py): {"via": "cli", "os_user", "host"} or the server's
        # {"via": "web"|"api", "method", "host", "client"}; null before revision 0008 or once purged.
        "origin": origin_of(row.origin),
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
