"""The first released schema: the tables and the append-only triggers on audit_event.

Exactly what `SQLModel.metadata.create_all` plus the triggers made before wijkflow had
migrations; a database made that way is recognised and stamped with this revision. It
creates only the tables that are not there yet: a database from the first core (7 of these
tables; programmes and reminders added the rest before migrations existed) is brought to
this schema by running it (migrations/recognise.py decides when that is safe).
The types are spelled out (not imported from wijkflow.models) so that this revision
keeps creating the same schema whatever the models become.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS audit_event_append_only_update BEFORE UPDATE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_event_append_only_delete BEFORE DELETE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END""",
]

POSTGRES_TRIGGERS = [
    """CREATE OR REPLACE FUNCTION wijkflow_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$""",
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    """CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
       FOR EACH ROW EXECUTE FUNCTION wijkflow_append_only()""",
]


def upgrade() -> None:
    """Every table of the first schema that is not there yet (the baseline for the first core's databases)."""
    inspector = sa.inspect(op.get_bind())
    existing = set(inspector.get_table_names())
    made: set[str] = set()

    def create_table(name: str, *parts: sa.schema.SchemaItem) -> None:
        if name not in existing:
            op.create_table(name, *parts)
            made.add(name)

    def create_index(index: str, table: str, columns: list[str], unique: bool) -> None:
        if table in made or index not in {ix["name"] for ix in inspector.get_indexes(table)}:
            op.create_index(index, table, columns, unique=unique)

    create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('aanpak_id', sa.Integer(), nullable=True),
    sa.Column('type', sa.String(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('from_phase', sa.String(), nullable=True),
    sa.Column('to_phase', sa.String(), nullable=True),
    sa.Column('reason', sa.String(), nullable=True),
    sa.Column('evidence', sa.String(), nullable=True),
    sa.Column('payload', sa.String(), nullable=False),
    sa.Column('prev_hash', sa.String(), nullable=False),
    sa.Column('hash', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    create_index('ix_audit_event_aanpak', 'audit_event', ['aanpak_id', 'id'], unique=False)
    create_index(op.f('ix_audit_event_type'), 'audit_event', ['type'], unique=False)
    create_table('person',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(), nullable=True),
    sa.Column('name', sa.String(), nullable=True),
    sa.Column('locale', sa.String(), nullable=False),
    sa.Column('role', sa.String(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('forgotten_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    create_table('workflow_definition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(), nullable=False),
    sa.Column('body', sa.String(), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name', 'version')
    )
    create_table('aanpak',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('wijk', sa.String(), nullable=False),
    sa.Column('gemeente', sa.String(), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=False),
    sa.Column('phase', sa.String(), nullable=False),
    sa.Column('phase_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('visit', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['definition_id'], ['workflow_definition.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug')
    )
    create_index(op.f('ix_aanpak_phase'), 'aanpak', ['phase'], unique=False)
    create_index(op.f('ix_aanpak_wijk'), 'aanpak', ['wijk'], unique=False)
    create_table('aanpak_role',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aanpak_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.ForeignKeyConstraint(['aanpak_id'], ['aanpak.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('aanpak_id', 'person_id', 'role')
    )
    create_index(op.f('ix_aanpak_role_aanpak_id'), 'aanpak_role', ['aanpak_id'], unique=False)
    create_index(op.f('ix_aanpak_role_person_id'), 'aanpak_role', ['person_id'], unique=False)
    create_table('aanpak_theme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aanpak_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('label', sa.String(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['aanpak_id'], ['aanpak.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('aanpak_id', 'key')
    )
    create_index(op.f('ix_aanpak_theme_aanpak_id'), 'aanpak_theme', ['aanpak_id'], unique=False)
    create_index(op.f('ix_aanpak_theme_key'), 'aanpak_theme', ['key'], unique=False)
    create_table('criterion_deadline',
    sa.Column('aanpak_id', sa.Integer(), nullable=False),
    sa.Column('criterion', sa.String(), nullable=False),
    sa.Column('due', sa.Date(), nullable=False),
    sa.ForeignKeyConstraint(['aanpak_id'], ['aanpak.id'], ),
    sa.PrimaryKeyConstraint('aanpak_id', 'criterion')
    )
    create_table('criterion_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aanpak_id', sa.Integer(), nullable=False),
    sa.Column('visit', sa.Integer(), nullable=False),
    sa.Column('criterion', sa.String(), nullable=False),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('evidence', sa.String(), nullable=True),
    sa.Column('comment', sa.String(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['aanpak_id'], ['aanpak.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    create_index('ix_criterion_record_visit', 'criterion_record', ['aanpak_id', 'visit'], unique=False)
    create_table('indicator',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aanpak_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('label', sa.String(), nullable=False),
    sa.Column('unit', sa.String(), nullable=False),
    sa.Column('direction', sa.String(), nullable=False),
    sa.Column('baseline', sa.Float(), nullable=True),
    sa.Column('baseline_date', sa.Date(), nullable=True),
    sa.Column('target', sa.Float(), nullable=True),
    sa.Column('target_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['aanpak_id'], ['aanpak.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('aanpak_id', 'key')
    )
    create_index(op.f('ix_indicator_aanpak_id'), 'indicator', ['aanpak_id'], unique=False)
    create_table('interpretation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aanpak_id', sa.Integer(), nullable=False),
    sa.Column('visit', sa.Integer(), nullable=False),
    sa.Column('phase', sa.String(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('conclusion', sa.String(), nullable=False),
    sa.Column('indicators', sa.String(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['aanpak_id'], ['aanpak.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    create_index('ix_interpretation_visit', 'interpretation', ['aanpak_id', 'visit'], unique=False)
    create_table('party_approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aanpak_id', sa.Integer(), nullable=False),
    sa.Column('visit', sa.Integer(), nullable=False),
    sa.Column('criterion', sa.String(), nullable=False),
    sa.Column('party', sa.String(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('evidence', sa.String(), nullable=True),
    sa.Column('comment', sa.String(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['aanpak_id'], ['aanpak.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('aanpak_id', 'visit', 'criterion', 'party')
    )
    create_index(op.f('ix_party_approval_aanpak_id'), 'party_approval', ['aanpak_id'], unique=False)
    create_table('plan_activity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aanpak_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(), nullable=False),
    sa.Column('partner', sa.String(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['aanpak_id'], ['aanpak.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('aanpak_id', 'number')
    )
    create_index(op.f('ix_plan_activity_aanpak_id'), 'plan_activity', ['aanpak_id'], unique=False)
    create_table('plan_partner',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aanpak_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['aanpak_id'], ['aanpak.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('aanpak_id', 'key')
    )
    create_index(op.f('ix_plan_partner_aanpak_id'), 'plan_partner', ['aanpak_id'], unique=False)
    create_table('plan_point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aanpak_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['aanpak_id'], ['aanpak.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    create_index(op.f('ix_plan_point_aanpak_id'), 'plan_point', ['aanpak_id'], unique=False)
    create_table('reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('aanpak_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('phase', sa.String(), nullable=True),
    sa.Column('visit', sa.Integer(), nullable=True),
    sa.Column('criterion', sa.String(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('dedupe', sa.String(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('reason', sa.String(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['aanpak_id'], ['aanpak.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe')
    )
    create_index(op.f('ix_reminder_aanpak_id'), 'reminder', ['aanpak_id'], unique=False)
    create_index('ix_reminder_due', 'reminder', ['status', 'due_at'], unique=False)
    create_table('intended_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('theme_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['theme_id'], ['aanpak_theme.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    create_index(op.f('ix_intended_result_theme_id'), 'intended_result', ['theme_id'], unique=False)
    create_table('measurement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('indicator_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('measured_on', sa.Date(), nullable=False),
    sa.Column('source', sa.String(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicator.id'], ),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    create_index(op.f('ix_measurement_indicator_id'), 'measurement', ['indicator_id'], unique=False)
    create_table('reminder_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reminder_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.String(), nullable=False),
    sa.Column('error', sa.String(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.ForeignKeyConstraint(['reminder_id'], ['reminder.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reminder_id', 'person_id')
    )
    create_index('ix_reminder_message_due', 'reminder_message', ['status', 'next_attempt_at'], unique=False)
    create_index(op.f('ix_reminder_message_reminder_id'), 'reminder_message', ['reminder_id'], unique=False)

    sqlite = op.get_bind().dialect.name == "sqlite"
    for ddl in SQLITE_TRIGGERS if sqlite else POSTGRES_TRIGGERS:
        op.execute(ddl)
    if sqlite and not existing:
        op.execute("PRAGMA user_version=1")


def downgrade() -> None:
    raise NotImplementedError("wijkflow does not go back below its first schema; restore a backup instead.")
