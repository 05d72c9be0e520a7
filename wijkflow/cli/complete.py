"""Shell completion from the database: aanpak refs, phases, criteria and people.

click completes commands and options itself (`_WIJKFLOW_COMPLETE=bash_source wijkflow`, see
README); `attach` adds completers for the arguments whose values live in the database:

    REF (any command)                     the aanpakken's slugs
    --to / --phase                        the phases of REF's definition (of every definition without REF)
    CRITERION                             the criteria of REF's definition
    EMAIL, --leader/--coordinator/--approver, --as   the people

A completer opens the database the command line names (--db, --config, the environment) and never
fails loudly: whatever goes wrong (no database yet, an unknown REF), it offers nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from click.shell_completion import CompletionItem

Found = list[tuple[str, str]]


def _complete(fetch: Callable[[Any, click.Context, str], Found]) -> Callable[..., list[CompletionItem]]:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        # A named seam: the App (settings, SQLAlchemy) is loaded only when the shell asks for a value.
        from ..app import App
        from ..config import load_settings

        root = ctx.find_root().params
        try:
            app = App(load_settings(flags={"database_url": root.get("database_url"), "user": root.get("user")},
                                    config_path=root.get("config")))
            try:
                found = fetch(app, ctx, incomplete)
            finally:
                app.close()
        except Exception:  # noqa: BLE001 - a completion offers nothing rather than a traceback
            return []
        return [CompletionItem(value, help=help_ or None) for value, help_ in found if value.startswith(incomplete)]

    return complete


def _ref(ctx: click.Context) -> str | None:
    """REF as typed so far: parsed, or (while an option still waits for its value) the first plain word."""
    if "ref" not in ctx.params:
        return None
    return ctx.params["ref"] or next((a for a in ctx.args if not a.startswith("-")), None)


def _refs(app: Any, ctx: click.Context, incomplete: str) -> Found:
    from ..services.completion import aanpak_slugs

    return aanpak_slugs(app, incomplete)


def _phases(app: Any, ctx: click.Context, incomplete: str) -> Found:
    from ..services.completion import phase_keys

    return phase_keys(app, _ref(ctx))


def _criteria(app: Any, ctx: click.Context, incomplete: str) -> Found:
    from ..services.completion import criterion_keys

    ref = _ref(ctx)
    return criterion_keys(app, ref) if ref else []


def _people(app: Any, ctx: click.Context, incomplete: str) -> Found:
    from ..services.completion import person_emails

    return person_emails(app, incomplete)


COMPLETERS = {"ref": _complete(_refs), "aanpak": _complete(_refs), "to": _complete(_phases),
              "phase": _complete(_phases), "criterion": _complete(_criteria), "email": _complete(_people),
              "leader": _complete(_people), "coordinators": _complete(_people), "approvers": _complete(_people),
              "user": _complete(_people)}


def attach(command: click.Command) -> None:
    """Give every parameter named as in COMPLETERS (in `command` and below) its completer."""
    for param in command.params:
        if param.name in COMPLETERS and not isinstance(param.type, click.Choice | click.Path):
            param._custom_shell_complete = COMPLETERS[param.name]  # what shell_complete= sets
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            attach(sub)
