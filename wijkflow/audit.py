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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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


def walk(rows: Iterable[Any], *, find_by_hash: Callable[[str], int | None],
         expect_head: str | None = None) -> Verdict:
    """Recompute the chain over `rows` (in id order), stopping at the first event that does not verify.

    Constant memory: only the previous event's id and hash are kept. When a break is found,
    `find_by_hash` (a database lookup) tells which event a misplaced row was chained to, so
    the verdict can say *what* happened: edited, deleted, swapped/reordered or inserted.
    """
    expected_id, expected_prev = 1, GENESIS
    checked, head_id, found_head = 0, None, None
    for row in rows:
        event = {k: getattr(row, k) for k in _CHAINED}
        rid = event["id"]
        if rid != expected_id:
            first, last = expected_id, rid - 1
            gone = f"Event #{first} is" if first == last else f"Events #{first} to #{last} are"
            after = f"#{first - 1}" if first > 1 else "the start of the chain"
            return Verdict(checked, head_id, expected_prev, broken_at=first,
                           problem=f"{gone} missing: deleted from the history (event #{rid} follows {after}).")
        content_ok = chain_hash(row.prev_hash, event) == row.hash
        link_ok = row.prev_hash == expected_prev
        if not (content_ok and link_ok):
            at, problem = _explain(event, row, content_ok, link_ok, find_by_hash)
            return Verdict(checked, head_id, expected_prev, broken_at=at, problem=problem)
        checked += 1
        head_id, expected_prev, expected_id = rid, row.hash, rid + 1
        if expect_head is not None and row.hash == expect_head:
            found_head = rid
    if expect_head is not None and found_head is None:
        return Verdict(checked, head_id, expected_prev, problem=(
            f"The head you kept ({expect_head[:16]}…) does not occur in the chain: events after it were "
            "deleted, or the history was rewritten and re-hashed."))
    return Verdict(checked, head_id, expected_prev, expected_head_at=found_head)


def _explain(event: dict[str, Any], row: Any, content_ok: bool, link_ok: bool,
             find_by_hash: Callable[[str], int | None]) -> tuple[int, str]:
    rid = event["id"]
    if link_ok:
        return rid, f"Event #{rid} was edited or forged: its content does not match its hash."
    follows = find_by_hash(row.prev_hash) if row.prev_hash != GENESIS else 0
    if content_ok:
        if follows is None:
            # This row is intact but chained to a hash no event carries any more: the one before
            # it was changed and given a fresh hash to hide the edit.
            return rid - 1, (f"Event #{rid - 1} was edited and re-hashed: event #{rid} is chained to a "
                             "hash that no event carries any more.")
        return rid, (f"Event #{rid} is chained after event #{follows}, not #{rid - 1}: events were "
                     "inserted or reordered.")
    if follows is not None and chain_hash(row.prev_hash, {**event, "id": follows + 1}) == row.hash:
        return rid, (f"Event #{rid} holds what was written as event #{follows + 1}: events were swapped, "
                     "reordered or inserted before it.")
    if follows is None:
        # Maybe events were deleted and the later ones renumbered to close the gap: the row's
        # hash still names the id it was written with. Only tried once a break is found.
        for written_as in range(rid + 1, rid + 1001):
            if chain_hash(row.prev_hash, {**event, "id": written_as}) == row.hash:
                n = written_as - rid
                gone = f"{n} events before it were" if n > 1 else "the event before it was"
                return rid, (f"Event #{rid} was written as event #{written_as}: {gone} deleted and the later "
                             "ones renumbered.")
    return rid, (f"Event #{rid} does not belong to the chain: neither its content nor its link verify "
                 "(inserted or edited).")
