"""The hash chain over audit events.

One chain per database: every event's hash covers its own canonical content and the
previous event's hash, so editing, deleting, reordering or inserting any event breaks
every hash after it. One chain (rather than one per aanpak) makes a single head value
enough to pin the whole history outside the database (`wijkflow audit head`).

Personal data is not in the chained content: actors are person ids, and `person` rows
can be erased without touching the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .audit_format import STORED_AT, utc_text

GENESIS = "0" * 64


def canonical(event: dict[str, Any]) -> str:
    """The exact bytes that are hashed: stable across engines and Python versions."""
    at = event["at"]
    body = {
        "id": event["id"],
        # Normalised to UTC so that a clock handing out another offset cannot change the bytes.
        "at": at.astimezone(UTC).isoformat(timespec="microseconds") if isinstance(at, datetime) else at,
        "aanpak_id": event["aanpak_id"],
        "type": event["type"],
        "actor_id": event["actor_id"],
        "from_phase": event["from_phase"],
        "to_phase": event["to_phase"],
        "reason": event["reason"],
        "evidence": event["evidence"],
        "payload": event["payload"],
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, event: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + "\n" + canonical(event)).encode()).hexdigest()


# --- verification ------------------------------------------------------------------------

_CHAINED = ("id", "at", "aanpak_id", "type", "actor_id", "from_phase", "to_phase", "reason", "evidence",
            "payload")


@dataclass(frozen=True)
class Verdict:
    """The outcome of walking the chain: how far it verified, and the first break if any."""

    checked: int
    head_id: int | None
    head_hash: str
    broken_at: int | None = None  # the event to look at first
    problem: str | None = None
    expected_head_at: int | None = None  # where a kept head was found in the chain

    @property
    def ok(self) -> bool:
        return self.problem is None


def walk(rows: Iterable[Mapping[str, Any]], *, find_by_hash: Callable[[str], int | None],
         expect_head: str | None = None) -> Verdict:
    """Recompute the chain over `rows` (in id order), stopping at the first event that does not verify.

    Constant memory: only the previous event's id and hash are kept. When a break is found,
    `find_by_hash` (a database lookup) tells which event a misplaced row was chained to, so
    the verdict can say *what* happened: edited, deleted, swapped/reordered or inserted.
    """
    expected_id, expected_prev = 1, GENESIS
    checked, head_id, found_head = 0, None, None
    for row in rows:
        event = {k: row[k] for k in _CHAINED}
        rid = event["id"]
        if rid != expected_id:
            first, last = expected_id, rid - 1
            gone = f"Event #{first} is" if first == last else f"Events #{first} to #{last} are"
            after = f"#{first - 1}" if first > 1 else "the start of the chain"
            return Verdict(checked, head_id, expected_prev, broken_at=first,
                           problem=f"{gone} missing: deleted from the history (event #{rid} follows {after}).")
        # Content erased by `audit purge` cannot be re-hashed into the chain: its link still verifies, and
        # its leaf (checked by the caller) commits to the digests of what was erased.
        content_ok = row.get("erased") is not None or chain_hash(row["prev_hash"], event) == row["hash"]
        link_ok = row["prev_hash"] == expected_prev
        if not (content_ok and link_ok):
            at, problem = _explain(event, row, content_ok, link_ok, find_by_hash)
            return Verdict(checked, head_id, expected_prev, broken_at=at, problem=problem)
        checked += 1
        head_id, expected_prev, expected_id = rid, row["hash"], rid + 1
        if expect_head is not None and row["hash"] == expect_head:
            found_head = rid
    if expect_head is not None and found_head is None:
        return Verdict(checked, head_id, expected_prev, problem=(
            f"The head you kept ({expect_head[:16]}…) does not occur in the chain: events after it were "
            "deleted, or the history was rewritten and re-hashed."))
    return Verdict(checked, head_id, expected_prev, expected_head_at=found_head)


def _explain(event: dict[str, Any], row: Any, content_ok: bool, link_ok: bool,
             find_by_hash: Callable[[str], int | None]) -> tuple[int, str]:
    rid = event["id"]
    prev_hash, hash_ = row["prev_hash"], row["hash"]
    if link_ok:
        return rid, f"Event #{rid} was edited or forged: its content does not match its hash."
    follows = find_by_hash(prev_hash) if prev_hash != GENESIS else 0
    if content_ok:
        if follows is None:
            # This row is intact but chained to a hash no event carries any more: the one before
            # it was changed and given a fresh hash to hide the edit.
            return rid - 1, (f"Event #{rid - 1} was edited and re-hashed: event #{rid} is chained to a "
                             "hash that no event carries any more.")
        return rid, (f"Event #{rid} is chained after event #{follows}, not #{rid - 1}: events were "
                     "inserted or reordered.")
    if follows is not None and chain_hash(prev_hash, {**event, "id": follows + 1}) == hash_:
        return rid, (f"Event #{rid} holds what was written as event #{follows + 1}: events were swapped, "
                     "reordered or inserted before it.")
    if follows is None:
        # Maybe events were deleted and the later ones renumbered to close the gap: the row's
        # hash still names the id it was written with. Only tried once a break is found.
        for written_as in range(rid + 1, rid + 1001):
            if chain_hash(prev_hash, {**event, "id": written_as}) == hash_:
                n = written_as - rid
                gone = f"{n} events before it were" if n > 1 else "the event before it was"
                return rid, (f"Event #{rid} was written as event #{written_as}: {gone} deleted and the later "
                             "ones renumbered.")
    return rid, (f"Event #{rid} does not belong to the chain: neither its content nor its link verify "
                 "(inserted or edited).")


# --- what is stored: types and canonical forms ----------------------------------------------------------

COLUMNS = ("id", "at", "aanpak_id", "type", "actor_id", "from_phase", "to_phase", "reason", "evidence", "payload",
           "prev_hash", "hash", "leaf", "erased", "origin")  # store.VERIFY_COLUMNS, in its order
_TEXT = ("type", "from_phase", "to_phase", "reason", "evidence", "payload", "prev_hash", "hash", "leaf", "erased",
         "origin")
_NULLABLE = ("aanpak_id", "actor_id", "from_phase", "to_phase", "reason", "evidence", "erased", "origin")
_NONE = type(None)
_TYPES = {"aanpak_id": (int, _NONE), "actor_id": (int, _NONE), "type": (str,), "from_phase": (str, _NONE),
          "to_phase": (str, _NONE), "reason": (str, _NONE), "evidence": (str, _NONE), "payload": (str,),
          "prev_hash": (str,), "hash": (str,), "leaf": (str,), "erased": (str, _NONE), "origin": (str, _NONE)}
_TYPED = tuple(_TYPES.items())


def stored_event(row: Any) -> dict[str, Any]:
    """One row of store.VERIFY_COLUMNS as the event it must be, or StoredWrong naming what is off.

    Types are checked as stored (SQLite keeps whatever was written); the time must be in the one
    form wijkflow writes (SQLite: 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC), so that two spellings of one
    instant cannot both pass; text must be UTF-8. The result has `at` as the chain hashes it
    ('...T08:00:00.000000+00:00') and `at_z` as the leaf does ('...T08:00:00.000000Z').
    Runs once per event in `audit verify`: the usual row takes the fast path.
    """
    values = dict(zip(COLUMNS, row, strict=True))
    at = values["at"]
    if type(values["id"]) is not int or any(type(values[k]) not in ok for k, ok in _TYPED):
        _wrong(values)
    if type(at) is str and STORED_AT.match(at):
        try:
            datetime.fromisoformat(at)
        except ValueError:
            raise StoredWrong(values["id"], f"its time {at!r} is not a real moment") from None
        base = at[:10] + "T" + at[11:]
        values["at"], values["at_z"] = base + "+00:00", base + "Z"
    elif isinstance(at, datetime) and at.tzinfo is not None:
        values["at"] = at.astimezone(UTC).isoformat(timespec="microseconds")
        values["at_z"] = utc_text(at)
    else:
        _wrong(values)
    texts = [values[k] for k in _TEXT if values[k]]
    if not "".join(texts).isascii():
        for name in _TEXT:
            try:
                (values[name] or "").encode("utf-8")
            except UnicodeEncodeError:
                raise StoredWrong(values["id"], f"its {name} holds bytes that are not UTF-8 text") from None
    return values


def _wrong(values: dict[str, Any]) -> None:
    """Say which stored value is of the wrong type or form (the slow path of stored_event)."""
    rid = values["id"]
    if not isinstance(rid, int) or isinstance(rid, bool):
        raise StoredWrong(None, f"an event's id is stored as {_kind(rid)} {str(rid)[:40]!r}, not a number")
    for name, value in values.items():
        if value is None:
            if name in _NULLABLE:
                continue
            raise StoredWrong(rid, f"its {name} is empty")
        if isinstance(value, bytes | bytearray | memoryview):
            raise StoredWrong(rid, f"its {name} holds binary data, not {'a time' if name == 'at' else 'text'}")
        if name in ("aanpak_id", "actor_id") and (not isinstance(value, int) or isinstance(value, bool)):
            raise StoredWrong(rid, f"its {name} is stored as {_kind(value)} {str(value)[:40]!r}, not a whole number")
        if name in _TEXT and not isinstance(value, str):
            raise StoredWrong(rid, f"its {name} is stored as {_kind(value)}, not text")
    at = values["at"]
    if isinstance(at, str):
        raise StoredWrong(rid, f"its time is stored as {at[:40]!r}, not in the one form wijkflow writes "
                               "(YYYY-MM-DD HH:MM:SS.ffffff, UTC): it was rewritten outside wijkflow")
    raise StoredWrong(rid, f"its time is stored as {_kind(at)}, not a moment")


class StoredWrong(Exception):
    """A stored event whose columns are not what wijkflow writes (wrong type or form)."""

    def __init__(self, event_id: int | None, problem: str) -> None:
        self.event_id = event_id
        super().__init__(f"Event #{event_id}: {problem}." if event_id is not None else f"An event: {problem}.")


def _kind(value: Any) -> str:
    return {int: "a number", float: "a decimal number", str: "text"}.get(type(value), type(value).__name__)
