"""The history of one aanpak, as people and scripts read it."""

from __future__ import annotations

import json
from typing import Any

from .. import store
from ..app import App
from ..definitions import Definition
from .common import load, local_iso, origin_of, person_ref


def history(app: App, ref: str) -> list[dict[str, Any]]:
    with app.db.read() as conn:
        ctx = load(conn, ref, app.definitions)
        rows = list(store.events(conn, ctx.row.id))
        ids: set[int] = {r.actor_id for r in rows if r.actor_id}
        payloads = [json.loads(r.payload) for r in rows]
        for p in payloads:
            ids |= {c["person_id"] for c in p.get("gate", []) if c.get("person_id")}
            if p.get("person_id"):
                ids.add(p["person_id"])
        people = store.people_by_id(conn, ids)
        versions = _versions_in_force(conn, app, ctx.definition, rows, payloads)
        indicator_labels = {i.key: i.label for i in store.indicators(conn, ctx.row.id)}
    _with_labels(payloads, ctx.definition, indicator_labels)
    out = []
    for r, payload, (before, d) in zip(rows, payloads, versions, strict=True):
        for c in payload.get("gate", []):
            c["by"] = person_ref(people, c.get("person_id"))
        if payload.get("person_id"):
            payload["person"] = person_ref(people, payload["person_id"])
        out.append({
            "id": r.id, "at": local_iso(r.at, app.tz), "type": r.type,
            "actor": person_ref(people, r.actor_id),
            "from_phase": r.from_phase, "to_phase": r.to_phase,
            "from_label": before.phase_label(r.from_phase) if r.from_phase else None,
            "to_label": d.phase_label(r.to_phase) if r.to_phase else None,
            "reason": r.reason, "evidence": r.evidence, "payload": payload, "hash": r.hash,
            "origin": origin_of(r.origin),
        })
    return out


def _versions_in_force(conn: Any, app: App, current: Definition, rows: list[Any],
                       payloads: list[dict[str, Any]]) -> list[tuple[Definition, Definition]]:
    """Per event, the definition versions its from and to phases are labelled by.

    Before a `definition_migrated` event the aanpak followed the version it migrated from; a phase
    renamed since is labelled as that version called it, not shown as its bare key.
    """
    moves = [p for r, p in zip(rows, payloads, strict=True) if r.type == "definition_migrated"]

    def version(name: str, number: int) -> Definition:
        found = store.definition_id_by_version(conn, name, number)
        return current if found is None else store.definition(conn, app.definitions, found)

    d = version(moves[0]["workflow"], moves[0]["from_version"]) if moves else current
    out = []
    for r, p in zip(rows, payloads, strict=True):
        if r.type == "definition_migrated":
            new = version(p["workflow"], p["to_version"])
            out.append((d, new))
            d = new
        else:
            out.append((d, d))
    return out


def _with_labels(payloads: list[dict[str, Any]], d: Any, indicators: dict[str, str]) -> None:
    """Give every event what a reader needs to recognise what it is about: the label of its
    criterion, indicator or theme, the title of its activity (older events stored only keys)."""
    themes: dict[str, str] = {}
    titles: dict[Any, str] = {}
    for p in payloads:
        if p.get("criterion") and not p.get("label") and p["criterion"] in d.criteria:
            p["label"] = d.criteria[p["criterion"]].label
        key = p.get("indicator") or p.get("key")
        if isinstance(key, str) and key in indicators and not p.get("label"):
            p["label"] = indicators[key]
        if p.get("indicators"):
            p["indicator_labels"] = [indicators.get(k, k) for k in p["indicators"]]
        if p.get("theme") and p.get("label") and "result" not in p:
            themes[p["theme"]] = p["label"]
        elif p.get("theme") and "result" in p:
            p["label"] = themes.get(p["theme"], p["theme"])
        if p.get("number") is not None:
            if p.get("title"):
                titles[p["number"]] = p["title"]
            title = (p.get("after") or {}).get("title") or titles.get(p["number"], "")
            p.setdefault("title", title)
            titles[p["number"]] = title
