"""The daily loop: an aanpak's status (suspended, stopped), its external id, and withdrawals.

- aanpak.status: active | suspended | stopped. Closed (completed) stays what it was: the
  definition's final phase. Stopping keeps the phase, so the phase still equals the latest
  phase change's destination and `reopen` has the phase it left.
- aanpak.external_ref: the optional `ref` column of `wijkflow import` (a zaak-id), its key when given.
- criterion_record.withdrawn_at, measurement.withdrawn_at: a withdrawal is its own audited
  event; the row stays and stops counting.

Touches only these columns (the revisions of parallel work are chained at merge).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (nullable, or with a default) works in place on SQLite and PostgreSQL.
    # The types are spelled out, as in 0001, so the revision does not change with the models.
    op.add_column("aanpak", sa.Column("status", sa.String(), nullable=False, server_default="active"))
    op.add_column("aanpak", sa.Column("external_ref", sa.String(), nullable=True))
    op.create_index("ix_aanpak_external_ref", "aanpak", ["external_ref"], unique=False)
    op.add_column("criterion_record", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("measurement", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("measurement") as batch:
        batch.drop_column("withdrawn_at")
    with op.batch_alter_table("criterion_record") as batch:
        batch.drop_column("withdrawn_at")
    op.drop_index("ix_aanpak_external_ref", table_name="aanpak")
    with op.batch_alter_table("aanpak") as batch:
        batch.drop_column("external_ref")
        batch.drop_column("status")
