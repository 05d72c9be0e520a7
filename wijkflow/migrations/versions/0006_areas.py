"""CBS area codes on aanpakken, and where an imported measurement came from.

`aanpak_area` holds an aanpak's gemeente, wijk and buurt codes (GM/WK/BU); `measurement`
gains the area code and the indeling year of a figure read by `measure import`.

Revision ID: 0006
Revises: 0002 (the lead chains it after the other round-2 revisions; it touches only its own table
and columns)
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aanpak_area",
        sa.Column("aanpak_id", sa.Integer(), sa.ForeignKey("aanpak.id"), primary_key=True),
        sa.Column("code", sa.String(), primary_key=True),
        sa.Column("kind", sa.String(), nullable=False),
    )
    op.create_index("ix_aanpak_area_code", "aanpak_area", ["code"], unique=False)
    with op.batch_alter_table("measurement") as batch:
        batch.add_column(sa.Column("area_code", sa.String(), nullable=True))
        batch.add_column(sa.Column("indeling", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("measurement") as batch:
        batch.drop_column("indeling")
        batch.drop_column("area_code")
    op.drop_index("ix_aanpak_area_code", table_name="aanpak_area")
    op.drop_table("aanpak_area")
