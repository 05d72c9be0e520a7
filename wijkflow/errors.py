"""Every error wijkflow raises on purpose, and the exit code the CLI gives it.

    WijkflowError                      exit 1  (anything unexpected)
    ├── InvalidInput (ValueError)      exit 2  bad input or usage
    │   └── DefinitionError            exit 2  a workflow file that does not validate
    ├── GateNotMet                     exit 3  the refusal lists every unmet criterion
    ├── NotFound (LookupError)         exit 4  unknown aanpak, person, criterion, phase ...
    ├── NotAllowed (PermissionError)   exit 5  not allowed for this person
    ├── Conflict                       exit 6  someone else changed it first (or the db was busy)
    ├── AuditFailed                    exit 7  the audit chain does not verify
    └── StorageError                   exit 2  the database location cannot be used

Messages are one sentence a person can act on; the CLI prints them as they are.
Foreign errors (SQLAlchemy, yaml, transitions) are translated where they enter,
never leaked to the user.
"""

from __future__ import annotations

from typing import Any


class WijkflowError(Exception):
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


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


class GateNotMet(WijkflowError):
    exit_code = 3

    def __init__(self, *, aanpak: str, source: str, dest: str, unmet: list[Any]) -> None:
        self.aanpak = aanpak
        self.source = source
        self.dest = dest
        self.unmet = unmet
        names = "; ".join(f"{c.label} ({c.key}): {c.why}" for c in unmet)
        super().__init__(
            f"{aanpak} cannot move from {source} to {dest}: {len(unmet)} criteria not met: {names}."
        )


class NotFound(WijkflowError, LookupError):
    exit_code = 4


class NotAllowed(WijkflowError, PermissionError):
    exit_code = 5


class Conflict(WijkflowError):
    exit_code = 6


class AuditFailed(WijkflowError):
    exit_code = 7


def shorten(value: Any, limit: int = 80) -> str:
    """A value as it may appear inside a one-sentence message: at most `limit` characters."""
    text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
