"""Index audit events by actor, for `audit query --actor`.

Without it, "what did this person do" reads every event in the database (EXPLAIN QUERY
PLAN: SCAN audit_event); with it, only that person's events, already in chain order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_event_actor", "audit_event", ["actor_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_event_actor", table_name="audit_event")
