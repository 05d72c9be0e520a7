"""The verifiable audit log: a Merkle leaf per event, the log's identity and signed checkpoints.

`audit_event.leaf` holds each event's leaf hash (docs/audit-format.md), filled here for the
events already written (the hash chain stays as it was, so heads kept before still verify);
`audit_event.erased` the digests of content `audit purge` erased, the one update the
append-only trigger now allows.
`audit_log` holds the origin line of this database's checkpoints and the key that signs them;
`audit_checkpoint` the checkpoints themselves. Touches only the audit tables.

Revision ID: 0005
Revises: 0002 (the lead chains it after the other round-2 revisions)
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# The leaf encoding is frozen by docs/audit-format.md (and its test vectors), so using the
# module that implements it keeps this revision computing the same leaves forever.
from wijkflow.audit_format import event_leaf
from wijkflow.models import UTCDateTime

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

_OLD_SQLITE_UPDATE_TRIGGER = """CREATE TRIGGER IF NOT EXISTS audit_event_append_only_update BEFORE UPDATE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"""
_OLD_POSTGRES_FUNCTION = """CREATE OR REPLACE FUNCTION wijkflow_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$"""
# Append-only, except erasing content (`audit purge`): written out as the models' db.py has them.
_KEPT = ("id", "at", "aanpak_id", "type", "actor_id", "from_phase", "to_phase", "prev_hash", "hash", "leaf")
_ERASE_ONLY = ("OLD.erased IS NULL AND NEW.erased IS NOT NULL AND NEW.reason IS NULL AND NEW.evidence IS NULL "
               "AND NEW.payload = '{}' AND ")
_SQLITE_UPDATE_TRIGGER = (
    "CREATE TRIGGER IF NOT EXISTS audit_event_append_only_update BEFORE UPDATE ON audit_event WHEN NOT ("
    + _ERASE_ONLY + " AND ".join(f"NEW.{c} IS OLD.{c}" for c in _KEPT) + ")"
    " BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END")
_POSTGRES_FUNCTION = (
    "CREATE OR REPLACE FUNCTION wijkflow_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP = 'UPDATE' AND " + _ERASE_ONLY
    + " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in _KEPT)
    + " THEN RETURN NEW; END IF; RAISE EXCEPTION 'audit events are append-only'; END $$")


def upgrade() -> None:
    op.add_column("audit_event", sa.Column("leaf", sa.String(), nullable=False, server_default=""))
    op.add_column("audit_event", sa.Column("erased", sa.String(), nullable=True))
    op.create_table("audit_log",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("origin", sa.String(), nullable=False),
                    sa.Column("public_key", sa.String(), nullable=True),
                    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint("id"))
    op.create_table("audit_checkpoint",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("size", sa.Integer(), nullable=False),
                    sa.Column("root", sa.String(), nullable=False),
                    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
                    sa.Column("note", sa.String(), nullable=False),
                    sa.PrimaryKeyConstraint("id"))
    op.create_index(op.f("ix_audit_checkpoint_size"), "audit_checkpoint", ["size"], unique=False)
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_event_append_only_update" if sqlite
                         else "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
    columns = "id, at, aanpak_id, type, actor_id, from_phase, to_phase, reason, evidence, payload"
    last = 0
    while True:
        rows = conn.exec_driver_sql(f"SELECT {columns} FROM audit_event WHERE id > {last} ORDER BY id LIMIT 5000").all()
        if not rows:
            break
        updates = [{"i": r.id, "leaf": event_leaf({**r._asdict(), "at": UTCDateTime.read(r.at)}).hex()} for r in rows]
        conn.execute(sa.text("UPDATE audit_event SET leaf = :leaf WHERE id = :i"), updates)
        last = rows[-1].id
    if sqlite:
        conn.exec_driver_sql(_SQLITE_UPDATE_TRIGGER)
    else:
        conn.exec_driver_sql(_POSTGRES_FUNCTION)
        conn.exec_driver_sql("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_checkpoint_size"), table_name="audit_checkpoint")
    op.drop_table("audit_checkpoint")
    op.drop_table("audit_log")
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_event_append_only_update")
        conn.exec_driver_sql(_OLD_SQLITE_UPDATE_TRIGGER)
    else:
        conn.exec_driver_sql(_OLD_POSTGRES_FUNCTION)
    # Plain ALTER (SQLite 3.35+): a batch copy of the table would lose its append-only triggers.
    conn.exec_driver_sql("ALTER TABLE audit_event DROP COLUMN erased")
    conn.exec_driver_sql("ALTER TABLE audit_event DROP COLUMN leaf")
