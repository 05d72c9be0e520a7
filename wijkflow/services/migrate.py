"""Moving running aanpakken to a new version of their workflow definition (`wijkflow migrate`).

Every aanpak is pinned to the definition version it started on (`workflow_definition`);
a new version is a YAML file with the same name and a higher version. Migrating re-pins
the aanpak, in one transaction with its `definition_migrated` event:

- its phase stays, or is renamed by `--map old=new`; an aanpak whose phase the new version
  lacks is refused unless a mapping says where it goes (nothing is written);
- the visit stays, so every criterion record of this visit (deliverables, approvals, sign-offs)
  counts toward the new gates as before. Records are never deleted: a criterion key the new
  version no longer has keeps its records in the history, it is just no longer asked for;
- a criterion that is met now and that the new version also asks for must still be met under
  the new version's rules, or the migration is refused: migrating never re-opens met work;
- the pending reminders are cancelled (reason: the migration) and scheduled anew from the new
  version's rules with the reminders' own hooks (phase entry, deadlines); occurrences that
  already went out are not sent again (their dedupe key is kept).

`--dry-run` does all of it inside the transaction and rolls back: the difference shown is
exactly what a real run would do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import engine, gates, store
from ..app import App
from ..definitions import MAX_VERSION, Definition, load_file
from ..errors import InvalidInput, NotAllowed, NotFound
from ..reminders import schedule as reminder_schedule
from ..store import migration as migration_store
from .common import STATUS_LABELS, Context, actor, clean_text, facts, load, local_iso


class _DryRun(Exception):
    """Raised inside the write transaction to roll a dry run back."""


def parse_mapping(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InvalidInput(f"--map takes OLD=NEW phase keys (e.g. --map monitor=evaluate), not '{pair}'.")
        if old.strip() in mapping:
            raise InvalidInput(f"--map names phase '{old.strip()}' twice.")
        mapping[old.strip()] = new.strip()
    return mapping


def find_version(app: App, name: str, version: int, workflow: str | None) -> Definition:
    """Definition `name` version `version`: from --workflow PATH, the database, or the workflows dirs."""
    if workflow and (workflow.endswith((".yaml", ".yml")) or "/" in workflow):
        if not Path(workflow).is_file():
            raise NotFound(f"No workflow definition file {workflow}.")
        d = load_file(workflow)
        if d.name != name or d.version != version:
            raise InvalidInput(f"{workflow} holds {d.ref}, not {name} v{version}.")
        return d
    with app.db.read() as conn:
        stored = store.definition_id_by_version(conn, name, version)
        if stored is not None:
            return store.definition(conn, app.definitions, stored)
    for directory in app.registry.dirs:
        for path in sorted(Path(directory).glob("*.y*ml")) if Path(directory).is_dir() else []:
            d = load_file(path)
            if d.name == name and d.version == version:
                return d
    raise NotFound(f"No version {version} of workflow '{name}' in the workflows directories "
                   "(give the file with --workflow PATH).")


def migrate(app: App, ref: str | None, *, to_version: int, workflow: str | None = None,
            mapping: dict[str, str] | None = None, dry_run: bool = False, reason: str | None = None,
            override: bool = False, acting: str | None) -> dict[str, Any]:
    """Move one aanpak (`ref`) or every running aanpak of a workflow (`ref` None) to `to_version`.

    `override`: an administrator's --map that moves an aanpak to another phase (not a rename)
    is carried out as an override of the gate on the way, with its own events.
    """
    mapping = mapping or {}
    reason = clean_text(reason, "reason", multiline=True)
    if override and not reason:
        raise InvalidInput("An override needs a --reason: it is recorded in the history.")
    if not 1 <= to_version <= MAX_VERSION:
        raise InvalidInput(f"--to-version is a definition version number: from 1 to {MAX_VERSION:,}.")
    now = app.now()
    with app.db.read() as conn:
        if ref is not None:
            row = store.find_aanpak(conn, ref)
            name = store.definition(conn, app.definitions, row.definition_id, row.definition_hash).name
            refs = [row.slug]
        else:
            if not workflow:
                raise InvalidInput("--all needs --workflow NAME (or the new version's file): which workflow's "
                                   "aanpakken to move.")
            name = (load_file(workflow).name if workflow.endswith((".yaml", ".yml")) or "/" in workflow
                    else workflow)
            refs = [r.slug for r in store.list_aanpakken(conn) if r.workflow == name]
    target = find_version(app, name, to_version, workflow)
    results: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    try:
        with app.db.write() as conn:
            who = actor(conn, acting)
            if override and who.role != "admin":
                raise NotAllowed("Only an administrator may override a gate.")
            if ref is None and who.role != "admin":
                raise NotAllowed(f"Only an administrator may migrate every aanpak at once; {who.email} is not one.")
            new_id = store.pin_definition(conn, target, now)
            problems: list[str] = []
            for slug in refs:
                ctx = load(conn, slug, app.definitions)
                old = ctx.definition
                if ref is not None and who.role != "admin":
                    ctx.require_role(who, "projectleider", "move it to another definition version")
                current = old.phase(ctx.row.phase)
                why_not = None
                if old.version >= to_version:
                    why_not = f"already on {old.ref}; migrations only move forward"
                elif current is not None and current.final:
                    why_not = f"closed ({old.phase_label(ctx.row.phase)}); it keeps the version it finished on"
                elif ctx.row.status == "stopped":
                    why_not = f"stopped ({STATUS_LABELS['stopped']}); it keeps the version it stopped on"
                if why_not:
                    if ref is not None:
                        raise InvalidInput(f"{ctx.row.name} is {why_not}.")
                    skipped.append({"aanpak": slug, "why": why_not})
                    continue
                try:
                    results.append(_migrate_one(conn, app, ctx, target, new_id, mapping, now, who, reason,
                                                override))
                except InvalidInput as err:
                    if ref is not None:
                        raise
                    problems.append(f"{slug}: {err}")
            if problems:
                raise InvalidInput(f"{len(problems)} of {len(refs)} aanpakken cannot move to {target.ref}; nothing "
                                   "was written: " + " ".join(problems))
            if ref is None and not results:
                raise NotFound(f"No running aanpak of workflow '{name}' to move to {target.ref}.")
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return {"to": target.ref, "dry_run": dry_run, "migrated": results, "skipped": skipped}


def _migrate_one(conn: Any, app: App, ctx: Context, new: Definition, new_id: int, mapping: dict[str, str],
                 now: Any, who: Any, reason: str | None, override: bool = False) -> dict[str, Any]:
    row, old = ctx.row, ctx.definition
    for source, dest in mapping.items():
        if old.phase(source) is None:
            raise InvalidInput(f"--map {source}={dest}: {old.ref} has no phase '{source}'.")
        if new.phase(dest) is None:
            raise InvalidInput(f"--map {source}={dest}: {new.ref} has no phase '{dest}' "
                               f"(phases: {', '.join(p.key for p in new.phases)}).")
    phase = mapping.get(row.phase, row.phase)
    if new.phase(phase) is None:
        raise InvalidInput(f"{row.name} is in phase {row.phase} ({old.phase_label(row.phase)}), which {new.ref} "
                           f"does not have; say where it goes with --map {row.phase}=PHASE "
                           f"(phases: {', '.join(p.key for p in new.phases)}).")
    if new.is_final(phase):
        raise InvalidInput(f"--map {row.phase}={phase}: {phase} is a final phase; close an aanpak with "
                           "`wijkflow advance`, not by migrating it.")
    moving_to = None  # an administrator's override: the phase it goes to past the gate, after the re-pin
    if not renames(old, new, row.phase, phase):
        if not override:
            raise InvalidInput(
                f"--map {row.phase}={phase} would move {row.name} from {old.phase_label(row.phase)} to "
                f"{new.phase_label(phase)}; a migration only renames phases ({_rename_rule(old, new, row.phase)}): "
                "move it with `wijkflow advance`, or as an administrator add --override --reason.")
        if new.phase(row.phase) is None:
            raise InvalidInput(f"{new.ref} has no phase {row.phase}: map it to the phase that takes its place, "
                               "then advance.")
        moving_to, phase = phase, row.phase
        engine.choose_transition(new, phase, moving_to)  # refused now when there is no such step

    before = _gate_state(conn, ctx, now)
    after_ctx = Context(row=row, definition=new, roles=ctx.roles)
    # The new gates see the same visit's records, in the (possibly renamed) phase.
    after_ctx.row = _with(row, phase=phase)
    after = _gate_state(conn, after_ctx, now)
    reopened = sorted(k for k, met in before.items() if met and k in after and not after[k])
    if reopened:
        labels = ", ".join(f"{new.criteria[k].label} [{k}]" for k in reopened)
        raise InvalidInput(f"{row.name}: {new.ref} would re-open what is already met ({labels}); its rules "
                           "for it are stricter. Meet them first, or keep the aanpak on its version.")

    reminders_before = _pending(conn, row.id)
    store.move_to_definition(conn, row.id, definition_id=new_id, phase=phase, now=now)
    _reschedule(conn, app, row, old, new, phase, after, reminders_before, now)
    reminders_after = _pending(conn, row.id)
    diff = definition_diff(old, new, row.phase, phase)
    gone_met = sorted(k for k, met in before.items() if met and k not in after)
    diff["criteria_no_longer_asked_but_met"] = gone_met
    # By row: what the reminder table shows (cancelled rows, new rows), not a net difference.
    was, now_pending = {r.id for r in reminders_before}, {r.id for r in reminders_after}
    diff["reminders"] = {
        "cancelled": [_reminder_view(r, app, old) for r in reminders_before if r.id not in now_pending],
        "scheduled": [_reminder_view(r, app, new) for r in reminders_after if r.id not in was],
        "kept": len(was & now_pending),
    }
    payload = {"from": old.ref, "to": new.ref, "from_version": old.version, "to_version": new.version,
               "from_definition_hash": old.content_hash(), "to_definition_hash": new.content_hash(),
               "workflow": new.name, "visit": row.visit, "mapping": {row.phase: phase} if phase != row.phase else {},
               "criteria_added": diff["gate"]["added"], "criteria_removed": diff["gate"]["removed"],
               "met_no_longer_asked": gone_met,
               "reminders_cancelled": len(diff["reminders"]["cancelled"]),
               "reminders_scheduled": len(diff["reminders"]["scheduled"])}
    store.append_event(conn, at=now, type="definition_migrated", aanpak_id=row.id, actor_id=who.id,
                       from_phase=row.phase, to_phase=phase, reason=reason, payload=payload)
    overridden = False
    if moving_to is not None:
        # The same move, events and reminders as `advance --to PHASE --override` on the new version.
        moved = load(conn, row.slug, app.definitions)
        move = engine.Move(conn=conn, app=app, row=moved.row, definition=new,
                           transition=engine.choose_transition(new, phase, moving_to), facts=facts(conn, moved),
                           who=who, reason=reason, now=now, expected_version=moved.row.version, override=True)
        engine.run(move)
        overridden, phase = move.overridden, moving_to
    return {"aanpak": row.slug, "name": row.name, "from": old.ref, "to": new.ref, "from_phase": row.phase,
            "to_phase": phase, "from_label": old.phase_label(row.phase), "to_label": new.phase_label(phase),
            "override": overridden, "diff": diff}


def renames(old: Definition, new: Definition, source: str, dest: str) -> bool:
    """Whether phase `source` of `old` becoming `dest` of `new` is a rename, not a move.

    A phase the new version still has stays itself. A phase it lacks may become a phase the old
    version did not have, at the same point of the lifecycle: the phases both versions share
    come before it (and after it) in both.
    """
    if new.phase(source) is not None:
        return dest == source
    if old.phase(dest) is not None:
        return False
    old_order = [p.key for p in old.phases]
    new_order = [p.key for p in new.phases]
    shared = [k for k in old_order if k in new_order]
    before_old = {k for k in shared if old_order.index(k) < old_order.index(source)}
    before_new = {k for k in shared if new_order.index(k) < new_order.index(dest)}
    return before_old == before_new


def _rename_rule(old: Definition, new: Definition, source: str) -> str:
    if new.phase(source) is not None:
        return f"{source} is still a phase of {new.ref}, so it stays {source}"
    return f"{source} is gone from {new.ref}: it may only become the new phase in its place"



class _with:  # noqa: N801 - a row with one field replaced, read like the row
    def __init__(self, row: Any, **changes: Any) -> None:
        self._row, self._changes = row, changes

    def __getattr__(self, name: str) -> Any:
        return self._changes[name] if name in self._changes else getattr(self._row, name)


def _gate_state(conn: Any, ctx: Context, now: Any) -> dict[str, bool]:
    """Every criterion on the gates out of the aanpak's phase: met or not, now."""
    d, phase = ctx.definition, ctx.row.phase
    if d.phase(phase) is None:
        return {}
    f = facts(conn, ctx)
    state: dict[str, bool] = {}
    for t in d.outgoing(phase):
        for c in gates.evaluate(d, t, f, now).criteria:
            state[c.key] = state.get(c.key, False) or c.met
    return state


def _pending(conn: Any, aanpak_id: int) -> list[Any]:
    return store.pending_reminders(conn, aanpak_id)


def _reschedule(conn: Any, app: App, row: Any, old: Definition, new: Definition, phase: str,
                gate_state: dict[str, bool], pending: list[Any], now: Any) -> None:
    """The pending reminders after the move: what the new rules would make, with the rhythm kept.

    A pending occurrence the new version would make the same (its rule unchanged, still for this
    phase and visit, or for an open criterion on the current gate with that deadline) is kept
    as it is, so a quarterly report stays on the day it was due; a renamed phase takes its
    occurrences along. The rest are cancelled with the reason, and the new rules scheduled with
    the reminders' own hooks: an every-rule continues after its last period (never from the
    start again), deadline reminders only for open criteria on the current gate, and nothing
    in the past as "nadert".
    """
    gate = new.gate_keys_out_of(phase)
    deadlines = store.deadlines(conn, row.id)
    drop = [r.id for r in pending if not _still_right(r, row, old, new, phase, gate, gate_state, deadlines)]
    store.cancel_reminders(conn, row.id, reason=f"definition migrated from {old.ref} to {new.ref}", now=now,
                           ids=drop)
    if phase != row.phase:
        migration_store.rename_reminder_phase(conn, row.id, visit=row.visit, old=row.phase, new=phase, now=now)
    if new.is_final(phase):
        return
    reminder_schedule.on_phase_entered(conn, app, aanpak_id=row.id, definition=new, phase=phase, visit=row.visit,
                                       since=row.phase_since, now=now)
    waiting = {r.rule for r in _pending(conn, row.id) if r.kind == "every"}
    for rule in new.reminders:
        if rule.kind != "every" or rule.phase != phase or rule.key in waiting:
            continue
        last = migration_store.last_period(conn, row.id, rule=rule.key, visit=row.visit)
        if last is not None:
            reminder_schedule.schedule_every(conn, app.calendar, row.id, rule, phase=phase, visit=row.visit,
                                             entry=app.calendar.local_date(row.phase_since), now=now,
                                             after_seq=last)
    for criterion, due in deadlines.items():
        if criterion in gate and not gate_state.get(criterion, False):
            reminder_schedule.on_deadline_set(conn, app, aanpak_id=row.id, definition=new, criterion=criterion,
                                              due=due, previous=None, now=now, not_before=now)


def _still_right(r: Any, row: Any, old: Definition, new: Definition, phase: str, gate: frozenset[str],
                 gate_state: dict[str, bool], deadlines: dict[str, Any]) -> bool:
    """Whether the new version would schedule pending occurrence `r` exactly as it stands."""
    was, will = old.reminder(r.rule), new.reminder(r.rule)
    if was is None or will is None:
        return False
    before = was.model_dump()
    if before.get("phase") == row.phase:
        before["phase"] = phase  # the rule follows a renamed phase
    if before != will.model_dump():
        return False
    if r.kind in reminder_schedule.PHASE_KINDS:
        if (r.phase, r.visit) != (row.phase, row.visit):
            return False
        if r.kind == "stalled":
            p_old, p_new = old.phase(row.phase), new.phase(phase)
            return (p_old.max_days if p_old else None) == (p_new.max_days if p_new else None)
        return True
    return r.criterion in gate and not gate_state.get(r.criterion, False) and deadlines.get(r.criterion) == r.deadline


def _reminder_view(r: Any, app: App, d: Definition) -> dict[str, Any]:
    criterion = d.criteria.get(r.criterion) if r.criterion else None
    return {"rule": r.rule, "kind": r.kind, "criterion": r.criterion,
            "criterion_label": criterion.label if criterion else None, "due_at": local_iso(r.due_at, app.tz)}


def definition_diff(old: Definition, new: Definition, old_phase: str, new_phase: str) -> dict[str, Any]:
    """What changes for an aanpak in `old_phase` moving to `new_phase` of the new version."""
    old_phases = {p.key: p.label for p in old.phases}
    new_phases = {p.key: p.label for p in new.phases}
    old_gate = {k for t in old.outgoing(old_phase) for k in t.gate}
    new_gate = {k for t in new.outgoing(new_phase) for k in t.gate}
    changed = sorted(k for k in old_gate & new_gate
                     if old.criteria[k].model_dump() != new.criteria[k].model_dump())
    old_rules = {r.key: r.model_dump() for r in old.reminders}
    new_rules = {r.key: r.model_dump() for r in new.reminders}
    return {
        "phases": {"added": [{"key": k, "label": v} for k, v in new_phases.items() if k not in old_phases],
                   "removed": [{"key": k, "label": v} for k, v in old_phases.items() if k not in new_phases],
                   "relabelled": [{"key": k, "from": old_phases[k], "to": v} for k, v in new_phases.items()
                                  if k in old_phases and old_phases[k] != v]},
        "gate": {"from": [t.dest for t in old.outgoing(old_phase)], "to": [t.dest for t in new.outgoing(new_phase)],
                 "added": [{"key": k, "label": new.criteria[k].label} for k in sorted(new_gate - old_gate)],
                 "removed": [{"key": k, "label": old.criteria[k].label} for k in sorted(old_gate - new_gate)],
                 "changed": [{"key": k, "label": new.criteria[k].label} for k in changed]},
        "reminder_rules": {"added": sorted(set(new_rules) - set(old_rules)),
                           "removed": sorted(set(old_rules) - set(new_rules)),
                           "changed": sorted(k for k in set(old_rules) & set(new_rules)
                                             if old_rules[k] != new_rules[k])},
    }
