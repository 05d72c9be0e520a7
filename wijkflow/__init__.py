"""wijkflow: a workflow engine for Dutch neighbourhood programmes (wijkaanpakken).

    from wijkflow import App, services
    app = App.open("sqlite:///wijken.db", user="pl@hengelo.nl")
    app.db.init()
    services.advance(app, "wijkaanpak-noord", acting="pl@hengelo.nl")
"""

from typing import TYPE_CHECKING, Any

from .errors import (
    AuditFailed,
    Conflict,
    DefinitionError,
    GateNotMet,
    InvalidInput,
    NotAllowed,
    NotFound,
    WijkflowError,
)

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .app import App


def __getattr__(name: str) -> Any:
    # `App` pulls in the settings machinery; `wijkflow --help` and the error classes do not need it.
    if name == "App":
        from .app import App

        return App
    raise AttributeError(f"module 'wijkflow' has no attribute {name!r}")

__all__ = [
    "App", "AuditFailed", "Conflict", "DefinitionError", "GateNotMet", "InvalidInput", "NotAllowed",
    "NotFound", "WijkflowError", "__version__",
]
