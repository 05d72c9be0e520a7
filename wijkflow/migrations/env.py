"""Alembic's environment, run by `wijkflow.migrations` (no alembic.ini: configured in code).

The caller hands over an open connection inside its own transaction, so a migration and
the stamp that records it commit together or not at all.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
