"""Workflow definitions: YAML files validated into frozen, typed models.

A definition is data. It is validated once (pydantic for shape, then the graph checks
below) and never changes afterwards. Every error names the file, the path inside the
document and the line, because the person fixing it has the YAML open, not our code.

The content hash (canonical JSON of the validated model) is stored with every aanpak:
an aanpak is pinned to the definition it started with.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from functools import cache, cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from .errors import DefinitionError, NotFound, shorten

KEY = r"^[a-z][a-z0-9_]*$"
_KEY_RE = re.compile(KEY)
ROLES = ("projectleider", "coordinator", "approver")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Phase(_Frozen):
    key: Annotated[str, Field(pattern=KEY)]
    label: Annotated[str, Field(min_length=1)]
    description: str = ""
    final: bool = False
    # After this many days in the phase an aanpak counts as stalled (list --stalled).
    max_days: Annotated[int, Field(ge=1)] | None = None


class _Criterion(_Frozen):
    label: Annotated[str, Field(min_length=1)]
    description: str = ""
    # An optional criterion is shown in the gate but never blocks it.
    optional: bool = False
    # visit: met again on every visit of the phase (after bijsturen the work is due again);
    # aanpak: once met, it stays met for the life of the aanpak (e.g. a signed lokaal contract).
    scope: Literal["visit", "aanpak"] = "visit"


class DeliverableCriterion(_Criterion):
    kind: Literal["deliverable"]
    evidence_required: bool = True


class ApprovalCriterion(_Criterion):
    kind: Literal["approval"]
    role: Literal["projectleider", "coordinator", "approver"] = "approver"
    # The deliverable this approval is about: whoever completed it may not approve it (four-eyes).
    approves: str | None = None


class IndicatorsCriterion(_Criterion):
    kind: Literal["indicators"]
    min_indicators: Annotated[int, Field(ge=0)] = 1
    baseline: bool = True
    min_measurements: Annotated[int, Field(ge=0)] = 0
    # Count only measurements recorded during this visit of the phase ("a new measurement").
    since_phase_entry: bool = False


class MinDaysCriterion(_Criterion):
    kind: Literal["min_days"]
    days: Annotated[int, Field(ge=1)]


# --- criteria of the source programmes: indicators judged, plans, themes, several parties ---


class TargetsCriterion(_Criterion):
    """Indicators have reached their streefwaarde (respecting which way is better)."""

    kind: Literal["targets"]
    # Only these indicator keys (e.g. from the catalogue); empty: every indicator with a target.
    indicators: tuple[Annotated[str, Field(pattern=KEY)], ...] = ()
    # How many must have reached their target; None: all of them.
    min_reached: Annotated[int, Field(ge=1)] | None = None


class InterpretationCriterion(_Criterion):
    """Someone judged the latest figures and recorded a conclusion (`wijkflow interpret`)."""

    kind: Literal["interpretation"]


class AnalysisCriterion(_Criterion):
    """The analysis of a wijkontwikkelingsplan: strong points and knelpunten."""

    kind: Literal["analysis"]
    min_strong_points: Annotated[int, Field(ge=1)] = 1
    min_bottlenecks: Annotated[int, Field(ge=1)] = 1


class AgendaCriterion(_Criterion):
    """The uitvoeringsagenda: activities per partner (partners named here or on the aanpak)."""

    kind: Literal["agenda"]
    partners: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    min_per_partner: Annotated[int, Field(ge=0)] = 1
    # Count only activities still to do (planned or running): a plan for the next year.
    open_only: bool = False
    # Every activity done or dropped (for leaving execution or evaluation).
    settled: bool = False


class ThemesCriterion(_Criterion):
    """Linked to themes (veranderopgaven) with intended results (beoogd resultaat) each."""

    kind: Literal["themes"]
    min_themes: Annotated[int, Field(ge=1)] = 1
    min_results_per_theme: Annotated[int, Field(ge=0)] = 1
    # When given, an aanpak on this definition can only be linked to these themes.
    choices: dict[Annotated[str, Field(pattern=KEY)], Annotated[str, Field(min_length=1)]] = {}


class PartiesCriterion(_Criterion):
    """Sign-off by each named party, each by a different person, with the decision document."""

    kind: Literal["parties"]
    parties: Annotated[dict[Annotated[str, Field(pattern=KEY)], Annotated[str, Field(min_length=1)]],
                       Field(min_length=2)]
    role: Literal["projectleider", "coordinator", "approver"] = "approver"
    evidence_required: bool = True


Criterion = Annotated[
    DeliverableCriterion | ApprovalCriterion | IndicatorsCriterion | MinDaysCriterion
    | TargetsCriterion | InterpretationCriterion | AnalysisCriterion | AgendaCriterion | ThemesCriterion
    | PartiesCriterion,
    Field(discriminator="kind"),
]


class Transition(_Frozen):
    source: Annotated[str, Field(pattern=KEY)]
    dest: Annotated[str, Field(pattern=KEY)]
    label: Annotated[str, Field(min_length=1)]
    trigger: Annotated[str, Field(pattern=KEY)] | None = None
    gate: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.trigger or f"{self.source}_to_{self.dest}"


# --- reminder rules ---------------------------------------------------------------------

_ISO_DAYS = re.compile(r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")
_WERKDAGEN = re.compile(r"^(\d+) werkdagen$")


def _duration(value: Any) -> str:
    """'P14D' (ISO 8601, whole days/weeks/months/years) or {werkdagen: 5}, kept as text.

    Working days are stored as the text '5 werkdagen' so the definition stays plain data.
    """
    if isinstance(value, dict) and set(value) == {"werkdagen"}:
        n = value["werkdagen"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise PydanticCustomError("duration", "werkdagen must be a whole number of at least 1")
        return f"{n} werkdagen"
    if isinstance(value, str) and (_ISO_DAYS.match(value) or _WERKDAGEN.match(value)):
        iso = _ISO_DAYS.match(value)
        if iso is not None and not any(int(g) for g in iso.groups() if g):
            raise PydanticCustomError("duration", "a duration of zero days is not a reminder")
        return value
    raise PydanticCustomError(
        "duration", "'{value}' is not a duration; use ISO 8601 days, weeks, months or years (e.g. P14D, P3M) "
        "or a mapping 'werkdagen: N'", {"value": value})


Duration = Annotated[str, BeforeValidator(_duration)]


class ReminderRule(_Frozen):
    """When to email whom. Exactly one of after / every / before / stalled says when.

    after:   a duration after entering `phase`, once per visit;
    every:   repeating while in `phase`, anchored to the phase entry (P3M: 3, 6, 9 months after);
    before:  a duration before the deadline of a criterion (`criteria`, or any with a deadline),
             plus one on the day after the deadline when it is still open (overdue);
    stalled: escalation when `phase` (or, without `phase`, any phase with max_days) lasts longer
             than the duration (default: the phase's max_days).
    """

    key: Annotated[str, Field(pattern=KEY)]
    # An event instead of a time (wijkflow.reminders.notify): who hears what when it happens.
    on: Literal["awaiting_approval", "gate_met", "phase_changed", "gate_overridden", "approval_withdrawn"] | None = None
    after: Duration | None = None
    every: Duration | None = None
    before: Duration | None = None
    stalled: Duration | bool | None = None
    phase: Annotated[str, Field(pattern=KEY)] | None = None
    criteria: tuple[str, ...] = ()
    to: Annotated[tuple[Literal["projectleider", "coordinator", "approver"], ...], Field(min_length=1)]
    template: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]
    subject: str | dict[Literal["nl", "en"], str]
    # What the reader is asked to do, one or two sentences (shown at the top of the message).
    ask: str | dict[Literal["nl", "en"], str] | None = None
    overdue: bool = True  # before-rules only: also remind on the day after the deadline

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        """YAML 1.1 reads the key `on` as the boolean true; here it is the word it was written as."""
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if k is True else k): v for k, v in data.items()}
        return data

    @property
    def kind(self) -> str:
        if self.on is not None:
            return "on"
        for kind in ("after", "every", "before", "stalled"):
            if getattr(self, kind) not in (None, False):
                return kind
        return ""

    def subject_for(self, locale: str) -> str:
        return _for_locale(self.subject, locale) or ""

    def ask_for(self, locale: str) -> str | None:
        return _for_locale(self.ask, locale)


def _for_locale(text: str | dict[Literal["nl", "en"], str] | None, locale: str) -> str | None:
    """A rule's text in the reader's language (Dutch unless `en`), or the one it has."""
    if text is None or isinstance(text, str):
        return text
    chosen = text.get("en" if locale == "en" else "nl")
    return chosen or next(iter(text.values()))


# A definition's version is a small counter: bounded here, where it is read, so a huge number is
# refused in one sentence instead of failing later in the database (an int64 column) or in arithmetic.
MAX_VERSION = 1_000_000


def _version(value: int) -> int:
    if not 1 <= value <= MAX_VERSION:
        raise PydanticCustomError("version_range", "the version must be a whole number from 1 to {max}",
                                  {"max": f"{MAX_VERSION:,}"})
    return value


_DURATION = r"^P(\d+Y(\d+M)?(\d+D)?|\d+M(\d+D)?|\d+D)$"
_URL = r"^https?://\S+$"


class ArchiefRegime(_Frozen):
    """What the Archiefwet asks of a closed aanpak's dossier, as the municipality's selectielijst says.

    archiefnominatie: blijvend_bewaren (transfer to the archiefbewaarplaats after the bewaartermijn)
    or vernietigen (destroy after it); bewaartermijn: an ISO 8601 period from closing (P10Y).
    The two URLs are what the ZGW Catalogi API wants (RESULTAAT and generic result description in
    the Selectielijst API); `workflows export --zgw-zaaktype` may also take them as options."""

    archiefnominatie: Literal["blijvend_bewaren", "vernietigen"]
    bewaartermijn: Annotated[str, Field(pattern=_DURATION)]
    selectielijstklasse: Annotated[str, Field(pattern=_URL, max_length=1000)] | None = None
    resultaattypeomschrijving: Annotated[str, Field(pattern=_URL, max_length=1000)] | None = None


class Archief(ArchiefRegime):
    # An aanpak stopped before its final phase may fall under another selectielijst category.
    gestopt: ArchiefRegime | None = None


class Definition(_Frozen):
    name: Annotated[str, Field(pattern=KEY)]
    version: Annotated[int, AfterValidator(_version)]
    label: Annotated[str, Field(min_length=1)]
    description: str = ""
    source_document: str = ""
    initial: str | None = None
    phases: tuple[Phase, ...]
    criteria: dict[str, Criterion] = {}
    transitions: tuple[Transition, ...]
    reminders: tuple[ReminderRule, ...] = ()
    archief: Archief | None = None

    @property
    def initial_phase(self) -> str:
        return self.initial or self.phases[0].key

    @property
    def ref(self) -> str:
        return f"{self.name} v{self.version}"

    def phase(self, key: str) -> Phase | None:
        return self._phase_by_key.get(key)

    def warnings(self) -> list[str]:
        """What validates but is probably not meant (`workflows validate` prints these)."""
        out = []
        for key, c in self.criteria.items():
            if isinstance(c, IndicatorsCriterion) and c.min_measurements and not c.since_phase_entry:
                out.append(f"criteria.{key}: counts measurements taken before the phase was entered, so old "
                           "figures satisfy it; add `since_phase_entry: true` to count only new ones.")
        return out

    def reminder(self, key: str) -> ReminderRule | None:
        """The reminder rule `key`; None when this version has no such rule (any more)."""
        return next((r for r in self.reminders if r.key == key), None)

    def is_final(self, key: str) -> bool:
        """Whether `key` is one of this definition's final phases (False for a phase it does not have)."""
        phase = self._phase_by_key.get(key)
        return phase is not None and phase.final

    @cached_property
    def _phase_by_key(self) -> dict[str, Phase]:
        # Looked up several times per phase change; the first of a key wins, as a scan would.
        found: dict[str, Phase] = {}
        for p in self.phases:
            found.setdefault(p.key, p)
        return found

    def phase_label(self, key: str) -> str:
        phase = self.phase(key)
        return phase.label if phase else key

    def outgoing(self, source: str) -> list[Transition]:
        return list(self._outgoing.get(source, ()))

    @cached_property
    def _outgoing(self) -> dict[str, tuple[Transition, ...]]:
        found: dict[str, list[Transition]] = {}
        for t in self.transitions:
            found.setdefault(t.source, []).append(t)
        return {k: tuple(v) for k, v in found.items()}

    def gate_keys_out_of(self, phase: str) -> frozenset[str]:
        """Every criterion on a gate out of `phase`."""
        return self._gate_keys.get(phase, frozenset())

    @cached_property
    def _gate_keys(self) -> dict[str, frozenset[str]]:
        return {source: frozenset(k for t in ts for k in t.gate) for source, ts in self._outgoing.items()}

    def kinds_out_of(self, phase: str) -> frozenset[str]:
        """The criterion kinds the gates out of `phase` use: which facts must be read to decide them."""
        return self._kinds.get(phase, frozenset())

    @cached_property
    def _kinds(self) -> dict[str, frozenset[str]]:
        return {p.key: frozenset(self.criteria[k].kind for t in self.outgoing(p.key) for k in t.gate)
                for p in self.phases}

    def content_hash(self) -> str:
        return self._hash

    @cached_property
    def _hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def canonical_json(self) -> str:
        data = self.model_dump(mode="json")
        if not data["reminders"]:
            del data["reminders"]  # a definition without reminders keeps the hash it had before they existed
        for rule in data.get("reminders", ()):
            for added_later in ("ask", "on"):
                if rule.get(added_later) is None:
                    rule.pop(added_later, None)  # likewise a rule without the keys added later
        if data.get("archief") is None:
            data.pop("archief", None)  # likewise without archief (issue 16)
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- loading -------------------------------------------------------------------------


# YAML files are read with bounded memory and depth (issue 15: a 499-byte definition of nested
# aliases, a "billion laughs", took 3.6 GB): anchors and aliases are refused, collections may nest
# MAX_YAML_DEPTH deep, and a file may be MAX_DEFINITION_BYTES long (the shipped ones are < 10 kB).
MAX_YAML_DEPTH = 50
MAX_DEFINITION_BYTES = 1 << 20


def load_file(path: str | Path) -> Definition:
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_DEFINITION_BYTES + 1)  # never more: the file may be /dev/zero
        if len(data) > MAX_DEFINITION_BYTES:
            raise DefinitionError(file=str(path), problem=_too_large(MAX_DEFINITION_BYTES, "a definition"))
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise DefinitionError(file=str(path), problem="no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(file=str(path), problem=f"cannot be read ({exc})") from None
    return load_text(text, file=str(path))


def _too_large(limit: int, what: str) -> str:
    return f"the file is larger than {limit:,} bytes, the most wijkflow reads for {what}"


def load_text(text: str, *, file: str = "<definition>") -> Definition:
    if len(text) > MAX_DEFINITION_BYTES:
        raise DefinitionError(file=file, problem=_too_large(MAX_DEFINITION_BYTES, "a definition"))
    data, lines = _parse_yaml(text, file)
    if not isinstance(data, dict):
        raise DefinitionError(file=file, line=1, problem="a definition must be a mapping (key: value)")
    try:
        definition = Definition.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc += ("kind",)  # point at the kind line, not the criterion
        path, line = _locate(loc, data, lines)
        raise DefinitionError(file=file, path=path, line=line, problem=_pydantic_problem(err)) from None
    _check_graph(definition, data, lines, file)
    return definition


def _pydantic_problem(err: ErrorDetails) -> str:
    if err["type"] == "missing":
        return f"required field '{err['loc'][-1]}' is missing"
    if err["type"] == "extra_forbidden":
        return f"unknown field '{err['loc'][-1]}'"
    if err["type"] == "string_pattern_mismatch":
        return (f"{err['input']!r} is not a valid key (lower-case letters, digits and _, "
                "starting with a letter)")
    if err["type"] == "union_tag_invalid":
        return f"unknown criterion kind {err['input'].get('kind')!r}; expected one of {err['ctx']['expected_tags']}"
    if err["type"] == "union_tag_not_found":
        return ("a criterion needs a 'kind' (deliverable, approval, indicators, min_days, targets, "
                "interpretation, analysis, agenda, themes or parties)")
    return str(err["msg"])


def _parse_yaml(text: str, file: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse YAML keeping the line of every node, and refuse duplicate keys, anchors and aliases,
    and collections nested deeper than MAX_YAML_DEPTH (the caller bounds the text's length).
    The definitions, the indicator catalogue and portfolio imports are all read here."""
    import yaml  # only definitions files need it; CLI start-up does not

    lines: dict[tuple[Any, ...], int] = {}
    try:
        # checks every character first: raises ReaderError on a control character
        loader = _bounded_loader()(text, file)
    except yaml.reader.ReaderError as exc:
        raise DefinitionError(file=file, line=text.count("\n", 0, max(exc.position, 0)) + 1,
                              problem=f"the character #x{exc.character:04x} is not allowed in YAML; "
                                      "remove it or write it as an escape in a quoted string") from None
    try:
        node = loader.get_single_node()
        if node is None:
            raise DefinitionError(file=file, line=1, problem="the file is empty")
        return _construct(loader, node, (), lines, file), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise DefinitionError(file=file, line=line, problem=f"YAML syntax error: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise DefinitionError(file=file, problem=f"YAML error: {exc}") from None
    finally:
        loader.dispose()


def _construct(loader: Any, node: Any, path: tuple[Any, ...], lines: dict, file: str) -> Any:
    import yaml

    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(loader, key_node, path, file)
            if not isinstance(key, str | int | bool | float) or key is None:
                raise DefinitionError(file=file, path=_fmt(path), line=key_node.start_mark.line + 1,
                                      problem="keys must be plain text")
            if key in out:
                raise DefinitionError(file=file, path=_fmt(path + (key,)),
                                      line=key_node.start_mark.line + 1,
                                      problem=f"duplicate key '{key}' (first on line {lines[path + (key,)]})")
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _construct(loader, value_node, path + (key,), lines, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, path + (i,), lines, file) for i, item in enumerate(node.value)]
    return _scalar(loader, node, path, file)


def _scalar(loader: Any, node: Any, path: tuple[Any, ...], file: str) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:  # a date like 2026-02-30, an integer of 5,000 digits
        raise DefinitionError(file=file, path=_fmt(path), line=node.start_mark.line + 1,
                              problem=f"{_clip(node.value)} cannot be read as {str(node.tag).rsplit(':', 1)[-1]} "
                                      f"({str(exc).split(';')[0]})") from None


def _line(event: Any) -> int | None:
    return event.start_mark.line + 1 if event.start_mark else None


def _clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


@cache
def _bounded_loader() -> Any:
    """yaml.SafeLoader that refuses anchors and aliases and nesting deeper than MAX_YAML_DEPTH while
    it composes, so neither a billion laughs, a recursive alias nor 10,000 brackets get further
    than the first offending line (the composer recurses per level: deep input was a RecursionError)."""
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        def __init__(self, text: str, file: str) -> None:
            super().__init__(text)
            self.file = file
            self.depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            anchor = getattr(event, "anchor", None)  # an alias event's anchor is the name it refers to
            if anchor is not None:
                what = "alias *" if isinstance(event, yaml.AliasEvent) else "anchor &"
                raise DefinitionError(file=self.file, line=_line(event),
                                      problem=f"the YAML {what}{anchor} is not allowed (wijkflow reads "
                                              "no anchors or aliases); write the value out in full")
            if not isinstance(event, yaml.CollectionStartEvent):
                return super().compose_node(parent, index)
            if self.depth >= MAX_YAML_DEPTH:
                raise DefinitionError(file=self.file, line=_line(event),
                                      problem=f"lists and mappings are nested more than {MAX_YAML_DEPTH} "
                                              "levels deep")
            self.depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    return BoundedLoader


def _fmt(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _locate(loc: tuple[Any, ...], data: Any, lines: dict) -> tuple[str, int | None]:
    """Map a pydantic error location onto the document: drop the union tags pydantic inserts."""
    doc_path: list[Any] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
            doc_path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            doc_path.append(part)
        elif isinstance(node, dict | list):
            continue  # a discriminator tag, or the missing field itself
    missing = loc[-1] if loc and loc[-1] != "[key]" and (not doc_path or doc_path[-1] != loc[-1]) else None
    line = lines.get(tuple(doc_path))
    shown = doc_path + ([missing] if isinstance(missing, str) else [])
    return _fmt(shown), line


def _check_graph(d: Definition, data: dict, lines: dict, file: str) -> None:
    def fail(path: tuple[Any, ...], problem: str) -> None:
        raise DefinitionError(file=file, path=_fmt(path), line=lines.get(path), problem=problem)

    keys: dict[str, int] = {}
    for i, phase in enumerate(d.phases):
        if phase.key in keys:
            fail(("phases", i, "key"), f"phase '{phase.key}' is defined twice")
        keys[phase.key] = i
    if d.initial is not None and d.initial not in keys:
        fail(("initial",), f"initial phase '{d.initial}' is not one of the phases")
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(d.transitions):
        for end in ("source", "dest"):
            if getattr(t, end) not in keys:
                fail(("transitions", i, end), f"unknown phase '{getattr(t, end)}' in a transition")
        if (t.source, t.dest) in seen:
            fail(("transitions", i), f"transition {t.source} -> {t.dest} is defined twice")
        seen.add((t.source, t.dest))
        if d.phases[keys[t.source]].final:
            fail(("transitions", i, "source"), f"phase '{t.source}' is final and cannot be left")
        for j, gate_key in enumerate(t.gate):
            if gate_key not in d.criteria:
                fail(("transitions", i, "gate", j), f"unknown criterion '{gate_key}' in the gate")
    names = [t.name for t in d.transitions]
    for i, t in enumerate(d.transitions):
        if names.count(t.name) > 1 and t.trigger is not None:
            fail(("transitions", i, "trigger"), f"trigger '{t.name}' is used twice")
    for key, crit in d.criteria.items():
        if not _KEY_RE.match(key):
            fail(("criteria", key), f"'{key}' is not a valid criterion key")
        if isinstance(crit, ApprovalCriterion) and crit.approves is not None:
            target = d.criteria.get(crit.approves)
            if not isinstance(target, DeliverableCriterion):
                fail(("criteria", key, "approves"), f"'{crit.approves}' is not a deliverable criterion")
    for i, phase in enumerate(d.phases):
        if not phase.final and not d.outgoing(phase.key):
            fail(("phases", i), f"phase '{phase.key}' is not final but has no way out")
    if not any(p.final for p in d.phases):
        fail(("phases",), "at least one phase must be final")
    reachable = {d.initial_phase}
    frontier = [d.initial_phase]
    while frontier:
        for t in d.outgoing(frontier.pop()):
            if t.dest not in reachable:
                reachable.add(t.dest)
                frontier.append(t.dest)
    for i, phase in enumerate(d.phases):
        if phase.key not in reachable:
            fail(("phases", i), f"phase '{phase.key}' cannot be reached from '{d.initial_phase}'")
    _check_reminders(d, fail)


def _check_reminders(d: Definition, fail: Any) -> None:
    seen: set[str] = set()
    for i, r in enumerate(d.reminders):
        at = ("reminders", i)
        if r.key in seen:
            fail(at + ("key",), f"reminder '{r.key}' is defined twice")
        seen.add(r.key)
        kinds = [k for k in ("on", "after", "every", "before", "stalled") if getattr(r, k) not in (None, False)]
        if len(kinds) != 1:
            fail(at, "a reminder needs exactly one of on, after, every, before or stalled"
                 + (f" (it has {', '.join(kinds)})" if kinds else ""))
        if r.phase is not None:
            phase = d.phase(r.phase)
            if phase is None:
                fail(at + ("phase",), f"unknown phase '{r.phase}' in a reminder")
            elif phase.final:
                fail(at + ("phase",), f"phase '{r.phase}' is final; nothing can be due in it")
        if r.on is not None and r.phase is not None:
            fail(at + ("phase",), "a reminder 'on' an event holds in every phase; leave out 'phase'")
        if r.kind in ("after", "every") and r.phase is None:
            fail(at, f"a reminder with '{r.kind}' needs a 'phase'")
        stalls_in = d.phase(r.phase) if r.phase is not None else None
        if r.kind == "stalled" and r.stalled is True and stalls_in is not None and not stalls_in.max_days:
            fail(at + ("stalled",), f"phase '{r.phase}' has no max_days; give the limit as a duration")
        if r.criteria and r.kind != "before":
            fail(at + ("criteria",), "only a 'before' reminder is about criteria")
        for j, key in enumerate(r.criteria):
            if key not in d.criteria:
                fail(at + ("criteria", j), f"unknown criterion '{key}' in a reminder")


def warnings(d: Definition) -> list[str]:
    """What is valid but probably not meant: said by `workflows validate`, never refused."""
    out = []
    if any(t.gate for t in d.transitions) and not any(r.kind == "before" for r in d.reminders):
        out.append(f"{d.ref} has no reminder rule with 'before:': a deadline set with `wijkflow deadline` "
                   "sends nobody a reminder (add one, e.g. before: {werkdagen: 5} with template: deadline)")
    return out




# --- where definitions live ----------------------------------------------------------


def shipped_dir() -> Path:
    """The definitions that ship with wijkflow: inside the wheel, or the checkout's workflows/."""
    here = Path(__file__).resolve().parent
    packaged = here / "_data" / "workflows"
    return packaged if packaged.is_dir() else here.parent / "workflows"


class Registry:
    """Definitions found on disk, by name (the highest version of each name wins)."""

    def __init__(self, dirs: Iterable[Path]) -> None:
        self.dirs = [Path(d) for d in dirs]
        self._by_name: dict[str, tuple[Definition, Path]] | None = None

    def _scan(self) -> dict[str, tuple[Definition, Path]]:
        if self._by_name is None:
            found: dict[str, tuple[Definition, Path]] = {}
            for directory in self.dirs:
                try:
                    if not directory.is_dir():
                        continue
                except OSError as exc:  # e.g. a name longer than the file system allows
                    raise DefinitionError(file=shorten(directory), problem=f"cannot be read ({exc.strerror})") from None
                for path in sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml")):
                    d = load_file(path)
                    if d.name not in found or found[d.name][0].version < d.version:
                        found[d.name] = (d, path)
            self._by_name = found
        return self._by_name

    def all(self) -> list[tuple[Definition, Path]]:
        return sorted(self._scan().values(), key=lambda dp: dp[0].name)

    def get(self, name_or_path: str) -> Definition:
        if name_or_path.endswith((".yaml", ".yml")) or "/" in name_or_path:
            return load_file(name_or_path)
        try:
            return self._scan()[name_or_path][0]
        except KeyError:

            known = ", ".join(sorted(self._scan())) or "none"
            raise NotFound(f"No workflow definition named '{name_or_path}' (known: {known}).") from None
