"""Signing in to the server: browser sessions, personal access tokens, login links, CLI logins.

Four new tables for `wijkflow serve` (issue 18); every secret in them is stored as its SHA-256
only. Touches no existing table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _moment(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _person(nullable: bool = False) -> sa.Column:
    return sa.Column("person_id", sa.Integer(), sa.ForeignKey("person.id"), nullable=nullable)


def upgrade() -> None:
    op.create_table("web_session",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("secret_hash", sa.String(), nullable=False, unique=True),
                    _person(), sa.Column("method", sa.String(), nullable=False),
                    _moment("created_at"), _moment("expires_at"), _moment("ended_at", True))
    op.create_table("api_token",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("secret_hash", sa.String(), nullable=False, unique=True),
                    sa.Column("prefix", sa.String(), nullable=False),
                    _person(), sa.Column("name", sa.String(), nullable=False),
                    _moment("created_at"), _moment("expires_at"), _moment("revoked_at", True),
                    _moment("last_used_at", True))
    op.create_table("login_link",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("secret_hash", sa.String(), nullable=False, unique=True),
                    sa.Column("browser_hash", sa.String(), nullable=False),
                    _person(), _moment("created_at"), _moment("expires_at"), _moment("used_at", True))
    op.create_table("cli_login",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("device_hash", sa.String(), nullable=False, unique=True),
                    sa.Column("user_code", sa.String(), nullable=False, unique=True),
                    sa.Column("host", sa.String(), nullable=False),
                    _moment("created_at"), _moment("expires_at"), _person(True),
                    sa.Column("token_id", sa.Integer(), sa.ForeignKey("api_token.id"), nullable=True),
                    _moment("claimed_at", True))
    for table in ("web_session", "api_token", "login_link"):
        op.create_index(f"ix_{table}_person_id", table, ["person_id"])


def downgrade() -> None:
    for table in ("web_session", "api_token", "login_link"):
        op.drop_index(f"ix_{table}_person_id", table_name=table)
    for table in ("cli_login", "login_link", "api_token", "web_session"):
        op.drop_table(table)
