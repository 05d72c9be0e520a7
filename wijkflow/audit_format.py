"""The canonical encoding of one audit event: the bytes a Merkle leaf commits to.

Specified in docs/audit-format.md (precisely enough to re-implement without this code) and
pinned by tests/data/audit_vectors.json. Changing anything here breaks every proof already
handed out: don't; a new format would get a new document and a new `format` value.

The leaf commits to the event's fields and to SHA-256 digests of its free text, payload and
origin, never to the text itself, so that erasing content later keeps every proof valid.
Revision 2 of the format (schema revision 0008) added the origin: an event that has one commits
to `origin_sha256` as an eleventh member; an event without one (every event written before)
has the ten members it always had, so its leaf is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .merkle import leaf_hash

# The keys of the committed object, in the order the document lists them (the encoding sorts them).
COMMITTED = ("id", "at", "aanpak_id", "type", "actor_id", "from_phase", "to_phase", "reason_sha256",
             "evidence_sha256", "payload_sha256")
CONTENT = ("reason", "evidence", "payload")  # committed by digest only
ORIGIN = "origin"  # committed by digest too, and only when the event has one (format revision 2)

# How a moment is stored: SQLite holds SQLAlchemy's UTC text, always with six decimals.
STORED_AT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\Z")
CANONICAL_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")


def utc_text(at: datetime) -> str:
    """A moment as the encoding writes it: UTC, microseconds, 'Z' (2026-03-02T08:00:00.000000Z)."""
    u = at.astimezone(UTC)
    return (f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}."
            f"{u.microsecond:06d}Z")


def digest(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def committed(event: Mapping[str, Any], at: str | None = None) -> dict[str, Any]:
    """The committed object of an event given with its content (`at` an aware datetime or canonical text,
    unless given separately as canonical text). `origin_sha256` only when the event has an origin."""
    if at is None:
        at = utc_text(event["at"]) if isinstance(event["at"], datetime) else event["at"]
    obj = {
        "id": event["id"], "at": at,
        "aanpak_id": event["aanpak_id"], "type": event["type"], "actor_id": event["actor_id"],
        "from_phase": event["from_phase"], "to_phase": event["to_phase"],
        "reason_sha256": digest(event["reason"]), "evidence_sha256": digest(event["evidence"]),
        "payload_sha256": digest(event["payload"]),
    }
    if event.get(ORIGIN) is not None:
        obj["origin_sha256"] = digest(event[ORIGIN])
    return obj


def origin_text(origin: Mapping[str, str]) -> str:
    """How an origin is stored and digested: its canonical JSON (RFC 8785; string values only)."""
    if not all(isinstance(v, str) for v in origin.values()):
        raise ValueError("an origin holds strings only")
    return canonical_bytes(origin).decode("utf-8")


_STRING = json.encoder.encode_basestring  # JSON string, non-ASCII as itself


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return _STRING(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2 ** 53:
        return str(value)
    raise ValueError(f"only strings, integers and null are encoded, not {value!r}")


def canonical_bytes(obj: Mapping[str, Any]) -> bytes:
    """RFC 8785 (JCS) of an object whose values are strings, integers or null.

    For such objects JCS is: members sorted by name (ASCII names: plain sort order), no whitespace,
    integers in decimal, strings with only '"', '\\' and control characters escaped (json's own
    string encoder with non-ASCII kept), written out here member by member: this runs once per
    event in `audit verify`.
    """
    return ("{" + ",".join(f'"{key}":{_value(obj[key])}' for key in sorted(obj)) + "}").encode("utf-8")


def erased_digests(event: Mapping[str, Any]) -> dict[str, Any]:
    """What audit_event.erased holds once `audit purge` removed the content: the content's digests (and the
    origin's, when the event has one: an account name or an address can be personal data)."""
    out = {f"{name}_sha256": digest(event[name]) for name in CONTENT}
    if event.get(ORIGIN) is not None:
        out["origin_sha256"] = digest(event[ORIGIN])
    return out


def stored_committed(event: Mapping[str, Any], at: str | None = None) -> dict[str, Any]:
    """The committed object of a stored event: from its content, or from the digests kept when it was erased."""
    obj = committed(event, at)
    if event.get("erased"):
        digests = json.loads(event["erased"])
        if not isinstance(digests, dict) or set(digests) not in ERASED_FORMS or event.get(ORIGIN) is not None:
            raise ValueError("not the digests of erased content")
        obj.update(digests)
    return obj


DIGESTS = ("evidence_sha256", "payload_sha256", "reason_sha256")
# What `erased` may hold: the three content digests, and the origin's when the event had one.
ERASED_FORMS = (set(DIGESTS), {*DIGESTS, "origin_sha256"})


def event_leaf(event: Mapping[str, Any]) -> bytes:
    """The Merkle leaf hash of an event given with its content (or the digests of its erased content)."""
    return leaf_hash(canonical_bytes(stored_committed(event)))


def bundle_line(event: Mapping[str, Any]) -> str:
    """One line of an export bundle's events.jsonl: the committed object plus the content and origin it
    commits to (none for an event whose content was erased)."""
    obj = stored_committed(event)
    if not event.get("erased"):
        for name in (*CONTENT, ORIGIN):
            if event.get(name) is not None:
                obj[name] = event[name]
    return canonical_bytes(obj).decode("utf-8")
