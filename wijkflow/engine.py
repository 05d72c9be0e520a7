"""The state machine: where a phase change happens.

One `transitions.Machine` per definition version (states = phases, one trigger per
transition, `auto_transitions=False` so only the definition's moves exist), cached on
`App.machines`. A move is one `Event.trigger` on that machine with a `Move` as the model:

- the transition's *condition* evaluates the gate (`gates.evaluate`) and keeps the whole
  result on the move, every criterion with met / not met and why, because a condition
  itself can only answer True or False; an administrator's `override` passes an unmet gate;
- its *before* callback writes the new phase with the version check (`store.change_phase`),
  so of two concurrent moves the second raises Conflict before anything else is written;
- its *after* callbacks schedule the new phase's reminders and append the audit events
  (`phase_changed`, and `gate_overridden` for an override), in the caller's transaction.

A dry run goes through the same machine and the same condition; its callbacks write nothing.

The machine is built with `model=None` and a move is never registered with `add_model`:
that call binds a method per trigger and per state onto the model (~80 µs for our
definitions), while `Event.trigger(model)` only reads and sets `model.state`. So the model
is a plain object with a `state` slot, made for one move and dropped afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from transitions import EventData, Machine, MachineError

from . import gates, store
from .definitions import Definition, Transition
from .errors import InvalidInput, NotFound
from .reminders import notify
from .reminders import schedule as reminder_schedule

if TYPE_CHECKING:
    from .app import App


@dataclass(slots=True, eq=False)
class Move:
    """One attempt to move one aanpak along one transition: the model `transitions` runs on.

    `state` is the phase as `transitions` sees it: the aanpak's phase before, the new phase
    once the move happened. `gate` is filled in by the machine's condition.
    """

    conn: sa.Connection
    app: App
    row: Any  # the aanpak row as read at the start of the transaction
    definition: Definition
    transition: Transition
    facts: gates.Facts
    who: Any  # the acting person
    reason: str | None
    now: datetime
    expected_version: int
    override: bool = False
    dry_run: bool = False
    gate: gates.GateResult | None = None
    state: str = ""

    def __post_init__(self) -> None:
        self.state = self.row.phase

    @property
    def overridden(self) -> bool:
        """An administrator moved past an unmet gate (recorded as such)."""
        return self.override and self.gate is not None and not self.gate.passed


def machine_for(app: App, definition: Definition) -> Machine:
    """The machine of `definition`'s version, built on first use and kept by `app`."""
    key = (definition.name, definition.version, definition.content_hash())
    machine = app.machines.get(key)
    if machine is None:
        machine = app.machines[key] = _build(definition)
    return machine


def _build(definition: Definition) -> Machine:
    return Machine(
        model=None,
        states=[p.key for p in definition.phases],
        transitions=[{"trigger": t.name, "source": t.source, "dest": t.dest,
                      "conditions": [_gate_allows], "before": [_change_phase],
                      "after": [_schedule_reminders, _record_move]}
                     for t in definition.transitions],
        initial=definition.initial_phase,
        auto_transitions=False,
        ignore_invalid_triggers=False,
        send_event=True,  # every callback gets the EventData; the Move is event.model
    )


def run(move: Move) -> bool:
    """Fire `move` through its definition's machine: True if it moved (or, dry, would move).

    After the call `move.gate` holds the gate result either way, for the refusal's reasons.
    Errors raised by a callback (Conflict from the version check) propagate unchanged and
    the caller's transaction rolls back.
    """
    machine = machine_for(move.app, move.definition)
    try:
        # The event itself rather than a trigger method bound onto the model (see the docstring).
        return machine.events[move.transition.name].trigger(move)
    except MachineError as exc:  # pragma: no cover - choose_transition only offers defined moves
        raise InvalidInput(f"Transition not allowed: {exc.value}") from None


def _move(event: EventData) -> Move:
    move = event.model
    assert isinstance(move, Move)
    return move


def _gate_allows(event: EventData) -> bool:
    """The condition: evaluate the gate, keep every criterion's verdict, pass if met or overridden."""
    move = _move(event)
    move.gate = gates.evaluate(move.definition, move.transition, move.facts, move.now)
    return move.gate.passed or move.override


def _change_phase(event: EventData) -> None:
    move = _move(event)
    if move.dry_run:
        return
    store.change_phase(move.conn, move.row.id, expected_version=move.expected_version,
                       phase=move.transition.dest, now=move.now)


def _schedule_reminders(event: EventData) -> None:
    move = _move(event)
    if move.dry_run:
        return
    row = move.row
    reminder_schedule.on_phase_changed(move.conn, move.app, aanpak_id=row.id, definition=move.definition,
                                       old_phase=row.phase, old_visit=row.visit, new_phase=move.state,
                                       since=move.now, now=move.now)
    notify.moved(move.conn, move.app, aanpak_id=row.id, definition=move.definition, phase=move.state,
                 visit=row.visit + 1, overridden=move.overridden, now=move.now)


def _record_move(event: EventData) -> None:
    move = _move(event)
    if move.dry_run:
        return
    row, t, gate = move.row, move.transition, move.gate
    assert gate is not None
    store.append_event(
        move.conn, at=move.now, type="phase_changed", aanpak_id=row.id, actor_id=move.who.id,
        from_phase=row.phase, to_phase=move.state, reason=move.reason,
        payload={"transition": t.name, "label": t.label, "visit": row.visit, "override": move.overridden,
                 "gate": [c.snapshot() for c in gate.criteria]})
    if move.overridden:
        # Its own event too, so `audit query --type gate_overridden` finds every override.
        store.append_event(
            move.conn, at=move.now, type="gate_overridden", aanpak_id=row.id, actor_id=move.who.id,
            from_phase=row.phase, to_phase=move.state, reason=move.reason,
            payload={"transition": t.name, "unmet": [c.key for c in gate.unmet]})


def choose_transition(definition: Definition, phase: str, to: str | None) -> Transition:
    """The transition out of `phase`: towards `to`, or the first one the definition lists."""
    outgoing = definition.outgoing(phase)
    if not outgoing:
        raise InvalidInput(f"Phase '{phase}' ({definition.phase_label(phase)}) is final; "
                           "there is nowhere to go from here.")
    if to is None:
        return outgoing[0]
    for t in outgoing:
        if t.dest == to:
            return t
    if definition.phase(to) is None:
        raise NotFound(f"Workflow {definition.ref} has no phase '{to}' (phases: "
                       f"{', '.join(p.key for p in definition.phases)}).")
    options = ", ".join(t.dest for t in outgoing)
    raise InvalidInput(f"Workflow {definition.ref} has no transition from '{phase}' to '{to}' "
                       f"(from '{phase}' you can go to: {options}).")
