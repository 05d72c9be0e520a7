"""The lifecycle step's shortcuts give exactly what the plain ways gave, on awkward data.

Each shortcut exists for benchmarks/lifecycle.py: a version-only read before the write
transaction, definition lookups from dicts built once, a work calendar kept per setting.
"""

from pathlib import Path

import pytest
from conftest import PL

from wijkflow import services, store
from wijkflow.app import App
from wijkflow.definitions import load_file, shipped_dir
from wijkflow.errors import NotFound

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "lifecycle.yaml"


def test_version_read_finds_the_aanpak_the_full_read_finds(app, aanpak, people):
    # Slugs that look like numbers, a number too long for an id, padding, unknown refs.
    for name in ("2026", "007 Oost", "Wijk   West ", "Noord"):
        services.create_aanpak(app, name, wijk=name, gemeente="Hengelo", leader=PL, acting=PL)
    services.complete(app, aanpak, "coalitie", evidence="x.pdf", acting=PL)  # versions differ per aanpak
    with app.db.read() as conn:
        rows = store.list_aanpakken(conn)
        refs = [str(r.id) for r in rows] + [r.slug for r in rows]
        refs += [f"  {refs[0]} ", f" {rows[-1].slug}\t", "0", "999", "9" * 19, "aanpak-2026x", "", "  "]
        for ref in refs:
            try:
                full = store.find_aanpak(conn, ref).version
            except NotFound as err:
                with pytest.raises(NotFound) as got:
                    store.aanpak_version(conn, ref)
                assert str(got.value) == str(err)
            else:
                assert store.aanpak_version(conn, ref) == full


def _definitions():
    return [load_file(p) for p in sorted(shipped_dir().glob("*.yaml"))] + [load_file(BENCH)]


@pytest.mark.parametrize("definition", _definitions(), ids=lambda d: d.ref)
def test_definition_lookups_answer_what_a_scan_answers(definition):
    keys = [p.key for p in definition.phases] + [t.dest for t in definition.transitions] + ["nope", ""]
    for key in keys:
        assert definition.phase(key) == next((p for p in definition.phases if p.key == key), None)
        assert definition.outgoing(key) == [t for t in definition.transitions if t.source == key]
        assert definition.gate_keys_out_of(key) == {k for t in definition.transitions if t.source == key
                                                    for k in t.gate}
    # A caller changing the list it got back does not change the definition.
    first = definition.phases[0].key
    definition.outgoing(first).clear()
    assert definition.outgoing(first) == [t for t in definition.transitions if t.source == first]


def test_work_calendar_follows_the_settings_it_was_built_from(db_path):
    def calendar(**flags):
        return App.open(str(db_path), **flags).calendar

    assert calendar().hour == 9
    assert calendar(reminder_hour=7).hour == 7
    app = App.open(str(db_path), reminder_hour=7)
    assert app.calendar is app.calendar  # built once per App: the public holidays are loaded once
    assert calendar(reminder_shift="none").shift is False
    assert str(calendar(timezone="Europe/London").tz) == "Europe/London"
    days = calendar(closing_days="2026-12-24,2026-12-31").closing_days
    assert {d.isoformat() for d in days} == {"2026-12-24", "2026-12-31"}
    assert calendar(closing_days="2026-12-24").closing_days != days


def _outcome(call, *args):
    """What a read answered, as plain values (the one-statement read gives its own row type)."""
    try:
        who, ctx = call(*args)
    except Exception as err:  # noqa: BLE001 - the refusal itself is what is compared
        return type(err), str(err)
    return ((who._fields, tuple(who)), (ctx.row._fields, tuple(ctx.row)),
            [tuple(r) for r in ctx.roles], ctx.definition)


def test_person_and_aanpak_in_one_read_answer_and_refuse_like_two(app, aanpak, people):
    from wijkflow.services.common import actor, actor_and_load, load

    services.forget_person(app, people["sg2"], acting=people["admin"])  # an erased person, email gone
    emails = [*people.values(), f"  {PL.upper()} ", "nobody@hengelo.example", "not an email", "", None]
    with app.db.read() as conn:
        rows = store.list_aanpakken(conn)
        refs = [aanpak, f" {rows[0].id} ", "999", "9" * 19, "onbekend"]
        for email in emails:
            for ref in refs:
                one = _outcome(actor_and_load, conn, email, ref, app.definitions)
                two = _outcome(lambda c, e, r: (actor(c, e), load(c, r, app.definitions)), conn, email, ref)
                assert one == two, (email, ref)


@pytest.mark.parametrize("text", [
    "2026-01-05 00:00:00.000000", "2026-03-29 01:59:59.999999", "2026-01-05 10:11:12",
    "2026-01-05T10:11:12", "2026-01-05 10:11:12+01:00", "2026-01-05 10:11:12.123+01", "2026-01-05 10:11:12.5",
    "2026-01-05 10:11:12.123456+00:00", "2026-01-05T10:11:12.123456-05:30", "2026-01-05",
])
def test_the_per_step_statements_read_stored_moments_as_core_does(app, aanpak, text):
    """Whatever text a moment column holds, the plain-SQL reads (store/fastpath.py) give what Core gives."""
    import sqlalchemy as sa

    from wijkflow.models import AANPAK, RECORD

    services.complete(app, aanpak, "coalitie", evidence="x.pdf", acting=PL)
    with app.db.write() as conn:
        if conn.dialect.name != "sqlite":
            pytest.skip("only SQLite's text column can hold a moment in another format")
        conn.execute(sa.text("UPDATE aanpak SET phase_since = :t"), {"t": text})
        conn.execute(sa.text("UPDATE criterion_record SET at = :t"), {"t": text})
    with app.db.read() as conn:
        row, who = store.find_aanpak_with_person(conn, aanpak, PL)
        core = conn.execute(sa.select(AANPAK).where(AANPAK.c.slug == aanpak)).one()
        assert row.phase_since == core.phase_since and row.phase_since.utcoffset() == core.phase_since.utcoffset()
        assert who.email == PL
        fast = store.records(conn, row.id, row.visit)
        core_records = conn.execute(sa.select(RECORD).where(RECORD.c.aanpak_id == row.id).order_by(RECORD.c.id)).all()
        assert [tuple(r) for r in fast] == [tuple(r) for r in core_records]
        assert all(r.at.tzinfo is not None for r in fast)


def test_the_per_step_statements_store_moments_as_core_does(app, aanpak):
    """Moments written through store/fastpath.py are stored exactly as Core stores them (same text on SQLite)."""
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from wijkflow.models import AANPAK, EVENT

    whole = datetime(2026, 4, 1, 10, 0, 0, tzinfo=UTC)  # no fraction: the case a plain isoformat gets wrong
    with app.db.write() as conn:
        row = store.find_aanpak(conn, aanpak)
        store.change_phase(conn, row.id, expected_version=row.version, phase=row.phase, now=whole)
        event_id = store.append_event(conn, at=whole, type="note", aanpak_id=row.id)
        conn.execute(AANPAK.update().where(AANPAK.c.id == row.id).values(created_at=whole))  # through Core
    with app.db.read() as conn:
        stored = conn.execute(sa.text("SELECT created_at, phase_since, updated_at FROM aanpak WHERE id = :id"),
                              {"id": row.id}).one()
        at = conn.execute(sa.text("SELECT at FROM audit_event WHERE id = :id"), {"id": event_id}).scalar()
        assert stored.phase_since == stored.updated_at == stored.created_at == at
        assert conn.execute(sa.select(EVENT.c.at).where(EVENT.c.id == event_id)).scalar() == whole
