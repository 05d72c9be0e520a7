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
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def canonical(event: dict[str, Any]) -> str:
    """The exact bytes that are hashed: stable across engines and Python versions."""
    at = event["at"]
    body = {
        "id": event["id"],
        "at": at.isoformat(timespec="microseconds") if isinstance(at, datetime) else at,
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
