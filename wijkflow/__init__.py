"""wijkflow: a workflow engine for Dutch neighbourhood programmes (wijkaanpakken).

    from wijkflow import App, services
    app = App.open("sqlite:///wijken.db", user="pl@hengelo.nl")
    app.db.init()
    services.advance(app, "wijkaanpak-noord", acting="pl@hengelo.nl")
"""

from .app import App
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

__all__ = [
    "App", "AuditFailed", "Conflict", "DefinitionError", "GateNotMet", "InvalidInput", "NotAllowed",
    "NotFound", "WijkflowError", "__version__",
]
