"""Retention (selectielijst vernietiging): `audit purge` erases old content and keeps every proof valid."""

from __future__ import annotations

import json
from typing import Any

from .. import store
from ..app import App
from ..audit_format import erased_digests, utc_text
from ..errors import InvalidInput, NotAllowed
from .common import actor, local_midnight_utc, parse_date

# --- retention --------------------------------------------------------------------------------------------


def purge(app: App, *, before: str, reason: str, acting: str | None) -> dict[str, Any]:
    """Erase the content (reason, evidence, payload) of every event before the local day `before`, for a
    retention schedule (selectielijst): the events, their order, who and when stay, and so does every proof,
    because each leaf commits to the digests of that content, which are kept. Admin only; itself an event."""
    text = (reason or "").strip()
    if not text:
        raise InvalidInput("Say why with --reason (the retention rule, e.g. 'Selectielijst 2020, categorie 1.1').")
    day = parse_date((before or "").strip(), "--before date")
    cutoff = local_midnight_utc(day, app.tz)
    now = app.now()
    if cutoff > now:
        raise InvalidInput(f"--before {before} lies in the future; only the past can be purged.")
    with app.db.write() as conn:
        who = actor(conn, acting)
        if who.role != "admin":
            raise NotAllowed("Only an administrator may purge the history (a retention decision).")
        rows = store.events_with_content_before(conn, cutoff)
        erased = [{"id": r.id, "erased": json.dumps(erased_digests(r._asdict()), sort_keys=True,
                                                    separators=(",", ":"))} for r in rows]
        store.secure_delete(conn)
        store.erase_content(conn, erased)
        event_id = store.append_event(conn, at=now, type="audit_purged", actor_id=who.id, reason=text,
                                      payload={"before": day.isoformat(), "before_utc": utc_text(cutoff),
                                               "events": len(erased)})
    scrubbed = store.checkpoint(app.db)  # the old content still sits in SQLite's write-ahead log until then
    return {"erased": len(erased), "before": day.isoformat(), "event": event_id, "scrubbed": scrubbed}
