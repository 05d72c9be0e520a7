"""A migration keeps the reminders right (issue 17).

With a next version of each shipped definition (the same rules, the version raised; for
wijkaanpak also one with the monitor phase renamed): a repeating reminder stays on its
original rhythm, deadline reminders exist only for open criteria on the current gate, nothing
in the past is scheduled as "nadert", and the event's counts are the rows the table shows.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import ADMIN, PL, SG1, WR

from wijkflow import services
from wijkflow.definitions import load_file, shipped_dir
from wijkflow.models import AANPAK, REMINDER
from wijkflow.services.migrate import migrate
from wijkflow.services.reminders import send_reminders

SHIPPED = sorted(shipped_dir().glob("*.yaml"))
RENAME = (("key: monitor\n", "key: toetsen\n"), ("source: monitor", "source: toetsen"),
          ("dest: monitor", "dest: toetsen"), ("phase: monitor", "phase: toetsen"))


def next_version(path: Path, into: Path, *changes: tuple[str, str], up: int = 1) -> Path:
    d = load_file(path)
    text = path.read_text(encoding="utf-8").replace(f"\nversion: {d.version}\n", f"\nversion: {d.version + up}\n", 1)
    for old, new in changes:
        text = text.replace(old, new)
    out = into / f"{d.name}-v{d.version + up}.yaml"
    out.write_text(text, encoding="utf-8")
    return out


def reminders(app, slug: str) -> list[dict]:
    """Every occurrence of the aanpak, times read as the store reads them (aware, on either database)."""
    with app.db.read() as conn:
        aanpak = conn.execute(sa.select(AANPAK.c.id).where(AANPAK.c.slug == slug)).scalar_one()
        rows = conn.execute(sa.select(REMINDER).where(REMINDER.c.aanpak_id == aanpak).order_by(REMINDER.c.id))
        return [dict(r._mapping) for r in rows]


def migrated_event(app, slug: str) -> dict:
    with app.db.read() as conn:
        raw = conn.execute(sa.text(
            "SELECT payload FROM audit_event WHERE type = 'definition_migrated' AND aanpak_id = "
            "(SELECT id FROM aanpak WHERE slug = :slug) ORDER BY id DESC LIMIT 1"), {"slug": slug}).scalar_one()
    return json.loads(raw)


def running(app, path: Path, clock) -> tuple[str, str]:
    """An aanpak imported in the phase after the first, a deadline on and off its gate, reminders sent."""
    d = load_file(path)
    phase = d.transitions[0].dest
    gate = sorted(d.gate_keys_out_of(phase))
    off_gate = sorted(k for k in d.criteria if k not in d.gate_keys_out_of(phase))
    a = services.create_aanpak(app, f"Aanpak {d.name}", wijk="Noord", gemeente="Hengelo", leader=PL,
                               coordinators=(WR,), approvers=(SG1,), acting=PL, workflow=str(path), phase=phase,
                               since=(clock.now - timedelta(days=100)).date().isoformat())
    slug = a["slug"]
    services.set_deadline(app, slug, gate[0], (clock.now + timedelta(days=60)).date().isoformat(), acting=PL)
    if off_gate:
        services.set_deadline(app, slug, off_gate[0], (clock.now - timedelta(days=20)).date().isoformat(), acting=PL)
    send_reminders(app)
    clock.forward(3)
    return slug, phase


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_next_version_with_the_same_rules_leaves_every_pending_reminder_as_it_was(app, people, clock, tmp_path,
                                                                                      path):
    slug, _ = running(app, path, clock)
    before = [r for r in reminders(app, slug) if r["status"] == "pending"]
    new = next_version(path, tmp_path)
    r = migrate(app, slug, to_version=load_file(new).version, workflow=str(new), acting=PL)
    assert r["migrated"][0]["diff"]["reminders"]["cancelled"] == []
    assert r["migrated"][0]["diff"]["reminders"]["scheduled"] == []
    after = [r for r in reminders(app, slug) if r["status"] == "pending"]
    assert after == before
    payload = migrated_event(app, slug)
    assert (payload["reminders_cancelled"], payload["reminders_scheduled"]) == (0, 0)


def test_the_quarterly_report_keeps_its_rhythm_and_nothing_past_is_scheduled(app, people, clock, tmp_path):
    """The issue's case: an aanpak in monitor, its quarterly monitoringsrapportage sent once, migrated."""
    path = shipped_dir() / "wijkaanpak.yaml"
    a = services.create_aanpak(app, "Wijkaanpak Zuid", wijk="Zuid", gemeente="Hengelo", leader=PL,
                               coordinators=(WR,), approvers=(SG1,), acting=PL, workflow=str(path))
    slug = a["slug"]
    # coalitie is met and belongs to the initiate gate, not to monitor's; its deadline will have passed.
    services.set_deadline(app, slug, "coalitie", (clock.now + timedelta(days=10)).date().isoformat(), acting=PL)
    services.complete(app, slug, "coalitie", evidence="coalitie.pdf", acting=PL)
    for to in ("design", "execute", "monitor"):
        services.advance(app, slug, to=to, override=True, reason="Doorgezet door de stuurgroep", acting=ADMIN)
    clock.forward(95)
    send_reminders(app)
    clock.forward(2)
    quarterly = [r for r in reminders(app, slug) if r["rule"] == "monitoringsrapportage"]
    assert [r["status"] == "pending" for r in quarterly] == [False, True]  # the first period went out
    next_due = quarterly[1]["due_at"]
    for new, mapping in ((next_version(path, tmp_path), {}),
                         (next_version(path, tmp_path, *RENAME, up=2), {"monitor": "toetsen"})):
        table_before = reminders(app, slug)
        r = migrate(app, slug, to_version=load_file(new).version, workflow=str(new), mapping=mapping, acting=PL)
        rows = reminders(app, slug)
        pending = [r for r in rows if r["status"] == "pending"]
        assert [r["due_at"] for r in pending if r["rule"] == "monitoringsrapportage"] == [next_due]
        assert not [r for r in pending if r["criterion"] == "coalitie"]
        assert not [r for r in pending if r["kind"] == "before" and r["due_at"] < clock.now]
        assert {r["phase"] for r in pending if r["phase"]} <= {mapping.get("monitor", "monitor")}
        # The event counts the rows the table shows.
        payload = migrated_event(app, slug)
        newly_cancelled = [r for r in rows if r["status"] == "cancelled" and r["reason"].startswith(
            "definition migrated") and r["id"] in {b["id"] for b in table_before if b["status"] == "pending"}]
        created = [r for r in rows if r["id"] not in {b["id"] for b in table_before}]
        assert (payload["reminders_cancelled"], payload["reminders_scheduled"]) == (len(newly_cancelled),
                                                                                    len(created))
        assert len(r["migrated"][0]["diff"]["reminders"]["scheduled"]) == len(created)
    # It still goes out when its day comes, in the renamed phase.
    clock.forward(100)
    send_reminders(app)
    assert [r["status"] for r in reminders(app, slug) if r["due_at"] == next_due] == ["queued"]


def test_after_a_phase_rename_the_history_still_shows_labels(app, people, clock, tmp_path, run):
    path = shipped_dir() / "wijkaanpak.yaml"
    monitor_label = load_file(path).phase_label("monitor")
    services.create_aanpak(app, "Klarendal", wijk="Klarendal", gemeente="Arnhem", leader=PL, approvers=(SG1,),
                           acting=PL, workflow=str(path), phase="monitor", since="2026-01-05")
    new = next_version(path, tmp_path, *RENAME, ("label: Monitoren", "label: Toetsen"))
    migrate(app, "klarendal", to_version=load_file(new).version, workflow=str(new), mapping={"monitor": "toetsen"},
            acting=PL)
    events = services.history(app, "klarendal")
    assert (events[0]["type"], events[0]["to_label"]) == ("aanpak_created", monitor_label)
    assert (events[-1]["from_label"], events[-1]["to_label"]) == (monitor_label, load_file(new).phase_label("toetsen"))
    r = run("history", "klarendal")
    assert f"created in {monitor_label}" in r.stdout and "created in monitor" not in r.stdout
