"""A gate's verdict: per criterion met or not, with the reason as a message code and parameters.

The reason is a msgid of the message catalogue (the English sentence with `{placeholders}`)
plus its parameters, so each reader gets it in their language: `.why` is the English the
CLI prints, `.why_in("nl")` the Dutch of the reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..definitions import Transition
from ..i18n import normal_locale, t
from ..roles import role_label
from ..templating import number


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """What an evaluator decides about one criterion."""

    met: bool
    reason: str  # a msgid (marked with N_ where it is written)
    params: dict[str, Any] = field(default_factory=dict)
    person_id: int | None = None
    at: datetime | None = None
    evidence: str | None = None
    comment: str | None = None

    @property
    def why(self) -> str:
        """The reason in English, as the CLI shows it."""
        return t("en", self.reason, **self.params)

    def why_in(self, locale: str | None) -> str:
        """The reason for a reader in `locale`; English is the CLI's, where roles go by their keys."""
        return t(locale, self.reason, **_labelled(self.params, locale))


@dataclass(frozen=True, kw_only=True)
class CriterionResult(Verdict):
    """A verdict on one named criterion of a gate."""

    key: str
    label: str
    kind: str
    optional: bool

    @property
    def blocking(self) -> bool:
        return not self.met and not self.optional

    def snapshot(self) -> dict[str, Any]:
        """The criterion as it was decided, for the phase-change event (written on every step).

        `reason` and `params` let a report say it again in another language; `why` is the English.
        """
        return {"key": self.key, "label": self.label, "kind": self.kind, "optional": self.optional,
                "met": self.met, "why": self.why, "person_id": self.person_id,
                "at": self.at.isoformat() if self.at else None, "evidence": self.evidence,
                "comment": self.comment, "reason": self.reason, "params": self.params}


def _labelled(params: dict[str, Any], locale: str | None) -> dict[str, Any]:
    """A Dutch reader reads a role's label ("lid van de stuurgroep"), not its key ("approver"), and 5,9."""
    if normal_locale(locale) == "en":
        return params
    out = {k: number(v, locale) if isinstance(v, float) else v for k, v in params.items()}  # 5,9 not 5.9
    if "role" in out:
        out["role"] = role_label(str(out["role"]), locale)
    return out


def snapshot_why(snapshot: dict[str, Any], locale: str | None) -> str:
    """The reason of a stored snapshot in `locale`; snapshots from before reason codes keep their English."""
    if snapshot.get("reason"):
        return t(locale, snapshot["reason"], **_labelled(snapshot.get("params") or {}, locale))
    return str(snapshot.get("why") or "")


@dataclass(frozen=True)
class GateResult:
    transition: Transition
    criteria: tuple[CriterionResult, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return not any(c.blocking for c in self.criteria)

    @property
    def unmet(self) -> list[CriterionResult]:
        return [c for c in self.criteria if c.blocking]
