"""Themes and intended results (Arnhem): an aanpak linked to city-wide veranderopgaven.

Per theme the aanpak names its beoogde resultaten. A definition may list the themes
(`choices` on a `themes` criterion); then only those can be linked.
"""

from __future__ import annotations

from typing import Any

from .. import store
from ..app import App
from ..definitions import ThemesCriterion
from ..errors import Conflict, InvalidInput
from ..reminders import notify
from .common import actor, clean_name, load, load_open, slugify


def theme_key(text: str) -> str:
    return slugify(text).replace("-", "_")


def _choices(definition: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in definition.criteria.values():
        if isinstance(c, ThemesCriterion):
            out.update(c.choices)
    return out


def _same(text: str) -> str:
    """How two intended results are compared: spaces collapsed, case folded."""
    return " ".join(text.split()).casefold()


def link_theme(app: App, ref: str, theme: str, *, results: tuple[str, ...] = (),
               acting: str | None) -> dict[str, Any]:
    theme = clean_name(theme, "theme")
    texts = [clean_name(r, "intended result") for r in results]
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load_open(conn, ref, app.definitions)
        ctx.require_any(who, ("projectleider", "coordinator"), "link themes")
        key, label = theme_key(theme), theme
        choices = _choices(ctx.definition)
        if choices:
            match = next((k for k, v in choices.items() if theme_key(v) == key or k == key), None)
            if match is None:
                raise InvalidInput(f"'{theme}' is not one of the themes of {ctx.definition.ref}: "
                                   + ", ".join(choices.values()) + ".")
            key, label = match, choices[match]
        row = store.theme(conn, ctx.row.id, key)
        if row is None:
            theme_id = store.insert_theme(conn, aanpak_id=ctx.row.id, key=key, label=label, at=now)
            store.append_event(conn, at=now, type="theme_linked", aanpak_id=ctx.row.id, actor_id=who.id,
                               payload={"theme": key, "label": label})
            notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
        elif not texts:
            raise Conflict(f"{ctx.row.name} is already linked to {row.label}; add intended results with --result.")
        else:
            theme_id = row.id
        have = {_same(r.text) for t, results in store.themes(conn, ctx.row.id) if t.id == theme_id for r in results}
        for text in texts:
            if _same(text) in have:
                raise Conflict(f"{ctx.row.name} already has the intended result '{text}' under {label}; "
                               "nothing was added.")
            have.add(_same(text))
        for text in texts:
            store.insert_intended_result(conn, theme_id=theme_id, text=text, person_id=who.id, at=now)
            store.append_event(conn, at=now, type="intended_result_added", aanpak_id=ctx.row.id, actor_id=who.id,
                               payload={"theme": key, "result": text})
            notify.gate_changed(conn, app, aanpak_id=ctx.row.id, definition=ctx.definition, now=now)
        store.touch_aanpak(conn, ctx.row.id, now)
    return {"aanpak": ctx.row.slug, "theme": key, "label": label, "results_added": texts,
            "linked": row is None}


def theme_view(app: App, ref: str) -> list[dict[str, Any]]:
    with app.db.read() as conn:
        ctx = load(conn, ref, app.definitions)
        rows = store.themes(conn, ctx.row.id)
    return [{"theme": t.key, "label": t.label, "results": [r.text for r in results]} for t, results in rows]


def check_theme_filter(theme: str | None) -> str | None:
    if theme is None:
        return None
    if not theme.strip():
        raise InvalidInput("--theme may not be empty.")
    return theme_key(theme)
