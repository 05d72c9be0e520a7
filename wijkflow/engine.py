"""The state machine: one `transitions.Machine` per definition version, shared by all aanpakken.

The machine is the authority on which moves exist (no `to_<phase>` shortcuts:
auto_transitions=False); the gate result decides whether a move may happen. The
SQLModel row is never handed to `transitions` (it assigns methods onto its models):
a small holder object is attached for the one call and removed again.
"""

from __future__ import annotations

import threading
from typing import Any

from .definitions import Definition, Transition
from .errors import InvalidInput
from .gates import GateResult

_machines: dict[tuple[str, int, str], Any] = {}


class _Holder:
    """What `transitions` sees of an aanpak for the duration of one fire()."""

    def __init__(self, gate_open: bool) -> None:
        self.gate_open = gate_open

    def is_gate_open(self) -> bool:
        return self.gate_open


def machine_for(definition: Definition) -> Any:
    key = (definition.name, definition.version, definition.content_hash())
    machine = _machines.get(key)
    if machine is None:
        from transitions import Machine

        machine = Machine(
            model=None,
            states=[p.key for p in definition.phases],
            transitions=[
                {"trigger": t.name, "source": t.source, "dest": t.dest, "conditions": "is_gate_open"}
                for t in definition.transitions
            ],
            initial=definition.initial_phase,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        _machines[key] = machine
    return machine


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
        from .errors import NotFound

        raise NotFound(f"Workflow {definition.ref} has no phase '{to}' (phases: "
                       f"{', '.join(p.key for p in definition.phases)}).")
    options = ", ".join(t.dest for t in outgoing)
    raise InvalidInput(f"Workflow {definition.ref} has no transition from '{phase}' to '{to}' "
                       f"(from '{phase}' you can go to: {options}).")


def fire(definition: Definition, phase: str, gate: GateResult, *, override: bool = False) -> str:
    """Run the transition through the machine; returns the new phase, or the old one if refused.

    `Machine.add_model` builds bound trigger methods on every call (~100 µs for our
    definitions), so each thread keeps one holder per machine and only sets its state.
    """
    machine = machine_for(definition)
    holder = _holder(machine)
    holder.gate_open = gate.passed or override
    machine.set_state(phase, model=holder)
    try:
        # The event itself rather than the model's trigger(): the same Event.trigger, without
        # the lookup of the trigger by name on every step.
        moved = machine.events[gate.transition.name].trigger(holder)
    except Exception as exc:  # pragma: no cover - choose_transition only offers defined moves
        from transitions import MachineError

        if isinstance(exc, MachineError):
            raise InvalidInput(f"Transition not allowed: {exc.value}") from None
        raise
    return holder.state if moved else phase


_local = threading.local()


def _holder(machine: Any) -> _Holder:
    holders = _local.__dict__.setdefault("holders", {})
    holder = holders.get(id(machine))
    if holder is None:
        holder = _Holder(False)
        machine.add_model(holder, initial=machine.initial)
        holders[id(machine)] = holder
    return holder
