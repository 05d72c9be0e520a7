"""`wijkflow area`: the CBS codes of an aanpak (gemeente, wijk, buurten), changed with a record in the history."""

from __future__ import annotations

from typing import Any

from .. import store
from ..app import App
from ..areas import Areas, gemeente_name, make_areas
from ..errors import InvalidInput
from .common import actor, load


def change_areas(app: App, ref: str, *, gemeente_code: str | None = None, wijk_code: str | None = None,
                 buurt_codes: tuple[str, ...] | None = None, clear: bool = False,
                 acting: str | None) -> dict[str, Any]:
    """Set what is given (buurt codes replace the buurten); `clear` removes every code first.

    The projectleider or an administrator; the change is an `areas_changed` event with before and after."""
    if not clear and gemeente_code is None and wijk_code is None and buurt_codes is None:
        raise InvalidInput("Say what changes: --gemeente-code, --wijk-code, --buurt-code and/or --clear.")
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        ctx = load(conn, ref, app.definitions)
        if who.role != "admin":
            ctx.require_role(who, "projectleider", "change its area codes")
        before = Areas.from_codes(store.area_codes(conn, ctx.row.id))
        base = Areas() if clear else before
        wk = wijk_code if wijk_code is not None else base.wijk
        gm = gemeente_code if gemeente_code is not None else (
            None if wijk_code is not None or buurt_codes is not None else base.gemeente)
        if gemeente_code is None and gm is None and base.gemeente and (wk or buurt_codes):
            gm = base.gemeente  # keep the gemeente; make_areas checks the new codes lie in it
        after = make_areas(gemeente=gm or None, wijk=wk or None,
                           buurten=buurt_codes if buurt_codes is not None else base.buurten)
        known = gemeente_name(after.gemeente)
        if known and ctx.row.gemeente and ctx.row.gemeente.casefold() != known.casefold():
            raise InvalidInput(f"Gemeente code {after.gemeente} is {known}, but {ctx.row.name} lies in "
                               f"{ctx.row.gemeente}.")
        changed = after.codes() != before.codes()
        if changed:
            store.set_area_codes(conn, ctx.row.id, after.codes())
            store.touch_aanpak(conn, ctx.row.id, now)
            store.append_event(conn, at=now, type="areas_changed", aanpak_id=ctx.row.id, actor_id=who.id,
                               payload={"before": before.codes(), "after": after.codes()})
    return {"aanpak": ctx.row.slug, "name": ctx.row.name, "changed": changed, "before": before.as_dict(),
            "areas": after.as_dict()}
