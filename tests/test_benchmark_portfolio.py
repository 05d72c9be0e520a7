"""The benchmarks' portfolio builder (benchmarks/portfolio.py) still builds what they measure.

The benchmarks are plain scripts outside the suite; this keeps their shared builder from
silently breaking when the store changes underneath it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import portfolio  # noqa: E402


def test_a_built_portfolio_has_every_clone_and_only_the_asked_reminders_due(db_url):
    app = portfolio.build(db_url, 6, due=2, rules=None)
    try:
        with app.db.read() as conn:
            aanpakken = conn.execute(sa.text("SELECT count(*) FROM aanpak")).scalar()
            roles = conn.execute(sa.text("SELECT count(*) FROM aanpak_role")).scalar()
            due = conn.execute(sa.text("SELECT count(DISTINCT aanpak_id) FROM reminder WHERE status = 'pending' "
                                       "AND due_at <= :now"), {"now": portfolio.NOW.replace(tzinfo=None)}).scalar()
        assert (aanpakken, roles, due) == (6, 18, 2)
    finally:
        app.close()
