"""Human views of a definition: a text outline and a Mermaid diagram (drawn by `transitions`)."""

from __future__ import annotations

from transitions.extensions import GraphMachine

from .definitions import Definition


def definition_text(d: Definition) -> str:
    lines = [f"{d.label} — {d.ref}"]
    if d.source_document:
        lines.append(f"Follows: {d.source_document}")
    if d.description:
        lines.append(d.description.strip())
    lines.append("")
    for p in d.phases:
        lines.append(f"{p.label} [{p.key}]" + (" (final)" if p.final else "")
                     + (f", stalled after {p.max_days} days" if p.max_days else ""))
        for t in d.outgoing(p.key):
            lines.append(f"  -> {d.phase_label(t.dest)} [{t.dest}] \"{t.label}\"")
            for key in t.gate:
                c = d.criteria[key]
                extra = {"approval": f", by {getattr(c, 'role', '')}", "min_days": f", {getattr(c, 'days', '')} days"}
                opt = ", optional" if c.optional else ""
                lines.append(f"       - {c.label} [{key}] ({c.kind}{extra.get(c.kind, '')}{opt})")
    return "\n".join(lines)


def mermaid(d: Definition) -> str:
    """A Mermaid state diagram, drawn by the diagram support of `transitions` itself.

    `transitions` names states by key; the Dutch labels are put in afterwards.
    """
    class _Model:
        pass

    model = _Model()
    GraphMachine(
        model=model,
        states=[p.key for p in d.phases],
        transitions=[{"trigger": t.name, "source": t.source, "dest": t.dest, "label": t.label}
                     for t in d.transitions],
        initial=d.initial_phase, auto_transitions=False, graph_engine="mermaid", title=d.label,
    )
    text = model.get_graph().draw(None)  # type: ignore[attr-defined]  # GraphMachine gives its models get_graph
    for p in d.phases:
        label = p.label.replace('"', "'")
        text = text.replace(f'state "{p.key}" as {p.key}\n', f'state "{label}" as {p.key}\n')
    return text
