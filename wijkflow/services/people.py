"""People: add, list, forget (AVG/GDPR erasure that leaves the audit chain intact)."""

from __future__ import annotations

from typing import Any

from .. import store
from ..app import App
from ..errors import Conflict, InvalidInput, NotAllowed
from .common import actor, claims_allowed, clean_email, clean_name, person

LOCALES = ("nl", "en")
GLOBAL_ROLES = ("admin", "auditor")


def add_person(app: App, email: str, *, name: str, locale: str = "nl", role: str | None = None,
               acting: str | None = None) -> dict[str, Any]:
    email = clean_email(email)
    name = clean_name(name)
    if locale not in LOCALES:
        raise InvalidInput(f"Locale '{locale}' is not supported; use nl or en.")
    if role is not None and role not in GLOBAL_ROLES:
        raise InvalidInput(f"Role '{role}' is not a global role; use admin or auditor.")
    now = app.now()
    with app.db.write() as conn:
        if acting or store.admin_ever_existed(conn):
            # The first administrator of a server installation is added locally (nobody can sign in yet);
            # from then on people are added through the server.
            claims_allowed(conn)
        if store.person_by_email(conn, email) is not None:
            raise Conflict(f"{email} is already known; nothing was changed.")
        by = store.person_by_email(conn, acting.strip().lower()) if acting else None
        if (by is None or by.role != "admin") and store.admin_ever_existed(conn):
            # Until the first administrator is added anyone may bootstrap; after that only admins, even
            # if none is left (an installation whose last admin was erased before that was refused).
            if not store.any_admin(conn):
                raise NotAllowed("Only an administrator may add people and none is left; whoever holds the "
                                 "database account must make one (README, \"Trust model\").")
            raise NotAllowed("Only an administrator may add people; say who you are with --as ADMIN-EMAIL.")
        if by is not None and by.role == "auditor":
            raise NotAllowed(f"{by.email} is an auditor: auditors read everything and change nothing.")
        pid = store.insert_person(conn, email=email, name=name, locale=locale, role=role, now=now)
        store.append_event(conn, at=now, type="person_added", actor_id=by.id if by else None,
                           payload={"person_id": pid, "locale": locale, "role": role})
    return {"id": pid, "email": email, "name": name, "locale": locale, "role": role}


def list_people(app: App) -> list[dict[str, Any]]:
    with app.db.read() as conn:
        return [{"id": p.id, "email": p.email, "name": p.name if p.forgotten_at is None else "(forgotten person)",
                 "locale": p.locale, "role": p.role} for p in store.list_people(conn)]


def forget_person(app: App, email: str, *, acting: str | None) -> dict[str, Any]:
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        target = person(conn, email)
        if who.role != "admin" and who.id != target.id:
            raise NotAllowed("Only an administrator (or the person themselves) may erase a person.")
        if target.role == "admin" and store.locked_admins(conn) == [target.id]:
            # Without an administrator nobody could add people or override a gate again.
            raise Conflict(f"{target.email} is the last administrator and cannot be erased; add another "
                           "with `wijkflow people add EMAIL --role admin` first; nothing was changed.")
        store.secure_delete(conn)
        # Their roles end first (each in the history), so no aanpak keeps a role nobody can hold.
        ended = store.roles_of_person(conn, target.id)
        for r in ended:
            store.remove_role(conn, r.aanpak_id, target.id, r.role)
            store.append_event(conn, at=now, type="role_unassigned", aanpak_id=r.aanpak_id, actor_id=who.id,
                               payload={"person_id": target.id, "role": r.role, "forgotten": True})
        store.erase_person(conn, target.id, now)
        store.append_event(conn, at=now, type="person_forgotten", actor_id=who.id,
                           payload={"person_id": target.id, "roles_ended": len(ended)})
    # The old row versions still sit in the write-ahead log until it is checkpointed.
    scrubbed = store.checkpoint(app.db)
    return {"id": target.id, "forgotten": True, "scrubbed": scrubbed, "roles_ended": len(ended)}


def edit_person(app: App, email: str, *, name: str | None = None, locale: str | None = None,
                acting: str | None) -> dict[str, Any]:
    """Correct a person's name or mail language (administrators, or the person themselves).

    The history says which fields changed, never the values: names live only in `person`."""
    if name is None and locale is None:
        raise InvalidInput("Say what changes: --name and/or --locale.")
    new_name = clean_name(name) if name is not None else None
    if locale is not None and locale not in LOCALES:
        raise InvalidInput(f"Locale '{locale}' is not supported; use nl or en.")
    now = app.now()
    with app.db.write() as conn:
        who = actor(conn, acting)
        target = person(conn, email)
        if who.role != "admin" and who.id != target.id:
            raise NotAllowed("Only an administrator (or the person themselves) may change a person.")
        changes = {k: v for k, v in (("name", new_name), ("locale", locale))
                   if v is not None and v != getattr(target, k)}
        if not changes:
            raise InvalidInput(f"{target.email} has that name and locale already; nothing to change.")
        store.update_person(conn, target.id, **changes)
        store.append_event(conn, at=now, type="person_edited", actor_id=who.id,
                           payload={"person_id": target.id, "fields": sorted(changes)})
    return {"id": target.id, "email": target.email, "name": new_name or target.name,
            "locale": locale or target.locale, "changed": sorted(changes)}
