"""Where each change came from: the origin of every audit event (BIO 12.4.1).

`audit_event.origin` holds the canonical JSON of wijkflow/provenance.py's origin: the OS account
and host for the local CLI, the sign-in method and client address for the server. Events written
before stay without one (NULL): their leaves, and so every head, checkpoint and proof handed out,
are unchanged (docs/audit-format.md, format 1 revision 2). The append-only triggers are redefined
so that an origin can only become NULL together with the content `audit purge` erases (its digest
kept in `erased`), never be changed otherwise. Touches only audit_event.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Written out here, not imported from db.py: a revision keeps doing what it did when it shipped.
_KEPT = ("id", "at", "aanpak_id", "type", "actor_id", "from_phase", "to_phase", "prev_hash", "hash", "leaf")
_ERASE_05 = ("OLD.erased IS NULL AND NEW.erased IS NOT NULL AND NEW.reason IS NULL AND NEW.evidence IS NULL "
             "AND NEW.payload = '{}' AND ")
_ERASE_08 = _ERASE_05 + "NEW.origin IS NULL AND "


def _sqlite_trigger(erase: str) -> str:
    return ("CREATE TRIGGER IF NOT EXISTS audit_event_append_only_update BEFORE UPDATE ON audit_event WHEN NOT ("
            + erase + " AND ".join(f"NEW.{c} IS OLD.{c}" for c in _KEPT) + ")"
            " BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END")


def _postgres_function(erase: str) -> str:
    return ("CREATE OR REPLACE FUNCTION wijkflow_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF TG_OP = 'UPDATE' AND " + erase
            + " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in _KEPT)
            + " THEN RETURN NEW; END IF; RAISE EXCEPTION 'audit events are append-only'; END $$")


def _triggers(erase: str) -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_event_append_only_update")
        conn.exec_driver_sql(_sqlite_trigger(erase))
    else:
        conn.exec_driver_sql(_postgres_function(erase))  # the trigger itself calls the function by name


def upgrade() -> None:
    op.add_column("audit_event", sa.Column("origin", sa.String(), nullable=True))
    _triggers(_ERASE_08)


def downgrade() -> None:
    # The trigger first: the old one does not know the column about to go. An origin recorded is lost with
    # the column; the leaves that commit to it stay, so `audit verify` on the older wijkflow reports those
    # events as edited: downgrading past 0008 is for an empty or a test database.
    _triggers(_ERASE_05)
    # Plain ALTER (SQLite 3.35+): a batch copy of the table would lose its append-only triggers.
    op.get_bind().exec_driver_sql("ALTER TABLE audit_event DROP COLUMN origin")
