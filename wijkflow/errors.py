"""Every error wijkflow raises on purpose, and the exit code the CLI gives it.

    WijkflowError                      exit 1  (anything unexpected)
    ├── InvalidInput (ValueError)      exit 2  bad input or usage
    │   ├── DefinitionError            exit 2  a workflow file that does not validate
    │   └── ImportRejected             exit 2  a portfolio file with bad rows: nothing imported
    ├── StorageError                   exit 2  the database location cannot be used
    ├── GateNotMet                     exit 3  the refusal lists every unmet criterion
    ├── NotFound (LookupError)         exit 4  unknown aanpak, person, criterion, phase ...
    ├── NotAllowed (PermissionError)   exit 5  not allowed for this person
    ├── Conflict                       exit 6  someone else changed it first (or the db was busy), or
    │                                          the state refuses it (already done, the last admin)
    ├── AuditFailed                    exit 7  the audit chain does not verify
    ├── DeliveryError                  exit 1  a message that did not go out (says if retrying may help)
    └── TemplateProblem                exit 1  a notification template that cannot be rendered

Each class builds its message from typed, keyword-only context. The message is one sentence a
person can act on; an error that lists several things (unmet criteria, bad rows) keeps them in
`details`, one line each, and `str()` gives the sentence followed by those lines indented: the
CLI prints exactly that after "Error: ". Foreign errors (SQLAlchemy, yaml, transitions, smtplib)
are translated where they enter, never leaked to the user.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .i18n import tn


class WijkflowError(Exception):
    exit_code = 1

    def __init__(self, message: str, *, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.details = tuple(details)

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"  {line}" for line in self.details)])


class InvalidInput(WijkflowError, ValueError):
    exit_code = 2


class StorageError(WijkflowError):
    exit_code = 2


class DefinitionError(InvalidInput):
    """A workflow definition that does not validate: names the file, the path in it and the line."""

    def __init__(self, *, file: str, path: str = "", line: int | None = None, problem: str) -> None:
        self.file = file
        self.path = path
        self.line = line
        self.problem = problem
        where = file
        if line is not None:
            where += f", line {line}"
        if path:
            where += f" ({path})"
        super().__init__(f"{where}: {problem}")


class ImportRejected(InvalidInput):
    """One or more rows of a portfolio file are bad: nothing was imported. Carries every (line, reason)."""

    def __init__(self, *, file: str, problems: list[tuple[int, str]], rows: int) -> None:
        self.file = file
        self.problems = problems
        self.rows = rows
        n = len(problems)
        super().__init__(f"{file}: {n} bad {'row' if n == 1 else 'rows'}; nothing was imported.",
                         details=[f"line {line}: {why}" for line, why in problems])


class GateNotMet(WijkflowError):
    """A move refused by its gate; `unmet` holds the criteria results (`.label .key .why`) that block it."""

    exit_code = 3

    def __init__(self, *, aanpak: str, source: str, dest: str, unmet: list[Any]) -> None:
        self.aanpak = aanpak
        self.source = source
        self.dest = dest
        self.unmet = unmet
        count = tn("en", "{n} criterion is not met", "{n} criteria are not met", len(unmet))
        super().__init__(f"{aanpak} cannot move from {source} to {dest}: {count}.",
                         details=[f"[ ] {c.label} [{c.key}]: {c.why}" for c in unmet])


class NotFound(WijkflowError, LookupError):
    exit_code = 4


class NotAllowed(WijkflowError, PermissionError):
    exit_code = 5


class Conflict(WijkflowError):
    exit_code = 6


class AuditFailed(WijkflowError):
    exit_code = 7


class DeliveryError(WijkflowError):
    """A message that did not go out. `retryable` says whether a later attempt may succeed."""

    def __init__(self, message: str, *, retryable: bool, answer: str | None = None,
                 connection: bool = False) -> None:
        self.retryable = retryable
        self.answer = answer
        # True when no connection could be made at all: the rest of the batch need not try.
        self.connection = connection
        super().__init__(message)


class TemplateProblem(WijkflowError):
    """A notification template that is missing or fails to render; names the template."""

    def __init__(self, *, template: str, problem: str) -> None:
        self.template = template
        self.problem = problem
        super().__init__(f"The notification template notifications/{template} cannot be rendered: {problem}.")


def shorten(value: Any, limit: int = 80) -> str:
    """A value as it may appear inside a one-sentence message: at most `limit` characters."""
    text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
