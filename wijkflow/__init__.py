"""wijkflow: a workflow engine for Dutch neighbourhood programmes (wijkaanpakken).

    from wijkflow import services
    from wijkflow.app import App

    app = App.open("sqlite:///wijken.db", user="pl@hengelo.nl")
    app.db.init()
    services.advance(app, "wijkaanpak-noord", acting="pl@hengelo.nl")

This module holds only the version and the error classes (cheap to import: `wijkflow --help`
loads it); `App` lives in `wijkflow.app`.
"""

from .errors import (
    AuditFailed,
    Conflict,
    DefinitionError,
    DeliveryError,
    GateNotMet,
    ImportRejected,
    InvalidInput,
    NotAllowed,
    NotFound,
    StorageError,
    TemplateProblem,
    WijkflowError,
)

__version__ = "0.1.0"

__all__ = [
    "AuditFailed", "Conflict", "DefinitionError", "DeliveryError", "GateNotMet", "ImportRejected", "InvalidInput",
    "NotAllowed", "NotFound", "StorageError", "TemplateProblem", "WijkflowError", "__version__",
]
