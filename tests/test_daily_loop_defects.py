"""The defects a new user tripped over (issue 12, items 2, 4-7, 10-12), each with the command that showed it."""

from __future__ import annotations

import json

import pytest
from conftest import ADMIN, PL, WR

from wijkflow import services
from wijkflow.definitions import IndicatorsCriterion, load_file, shipped_dir

SHIPPED = sorted(p.stem for p in shipped_dir().glob("*.yaml"))


# --- 2. old figures do not satisfy "nieuwe meting" ---------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_new_measurement_criterion_counts_only_this_visit(name):
    d = load_file(shipped_dir() / f"{name}.yaml")
    counting = [k for k, c in d.criteria.items() if isinstance(c, IndicatorsCriterion) and c.min_measurements]
    assert counting and all(d.criteria[k].since_phase_entry for k in counting)  # type: ignore[union-attr]
    assert d.warnings() == []


@pytest.mark.parametrize("name", SHIPPED)
def test_a_measurement_from_before_the_visit_does_not_count(name, app, people, clock):
    d = load_file(shipped_dir() / f"{name}.yaml")
    t = next(t for t in d.transitions if "metingen" in t.gate)
    into = next(x for x in d.transitions if x.dest == t.source)
    a = services.create_aanpak(app, f"Proef {name}", wijk="Noord", leader=PL, coordinators=(WR,), workflow=name,
                               phase=into.source, since="2026-01-05", acting=PL)["slug"]
    for key in ("actieve_bewoners", "veiligheidsbeleving"):
        services.add_indicator(app, a, key, from_catalogue=True, baseline=5, baseline_date="2026-01-05", acting=WR)
        services.measure(app, a, key, 6, on="2026-02-01", acting=WR)
    clock.forward(1)
    services.advance(app, a, acting=ADMIN, to=t.source, override=True, reason="test")

    def metingen() -> bool:
        gate = services.gate_status(app, a, to=t.dest)
        return next(c for c in gate["criteria"] if c["key"] == "metingen")["met"]

    assert not metingen()
    # Recorded now but taken before the visit began: still old.
    services.measure(app, a, "actieve_bewoners", 7, on="2026-02-02", acting=WR)
    services.measure(app, a, "veiligheidsbeleving", 7, on="2026-02-02", acting=WR)
    assert not metingen()
    for key in ("actieve_bewoners", "veiligheidsbeleving"):
        services.measure(app, a, key, 8, acting=WR)
    assert metingen()


def test_the_validator_warns_about_a_new_measurement_criterion_without_recency(tmp_path, run):
    text = (shipped_dir() / "wijkprogramma.yaml").read_text(encoding="utf-8").replace(
        "    since_phase_entry: true\n", "")
    path = tmp_path / "oud.yaml"
    path.write_text(text, encoding="utf-8")
    r = run("workflows", "validate", str(path))
    assert r.exit_code == 0
    assert "Warning: " in r.stderr and "criteria.metingen: counts measurements taken before the phase" in r.stderr


# --- 6. min_days counts Europe/Amsterdam calendar days ------------------------------------------


def test_min_days_counts_calendar_days_across_daylight_saving(app, people, run):
    services.create_aanpak(app, "Wijkaanpak Noord", wijk="Noord", leader=PL, phase="execute", since="2026-01-15",
                           acting=PL)
    r = run("gate", "wijkaanpak-noord", "--format", "json", env={"WIJKFLOW_NOW": "2026-04-15T00:30"})
    gate = json.loads(r.stdout)
    days = next(c for c in gate["criteria"] if c["kind"] == "min_days")
    assert days["met"], days["why"]
    assert days["why"].startswith("90 days in phase")
    shown = json.loads(run("show", "wijkaanpak-noord", "--format", "json",
                           env={"WIJKFLOW_NOW": "2026-04-15T00:30"}).stdout)
    assert shown["days_in_phase"] == 90
    r = run("gate", "wijkaanpak-noord", "--format", "json", env={"WIJKFLOW_NOW": "2026-04-14T23:30"})
    days = next(c for c in json.loads(r.stdout)["criteria"] if c["kind"] == "min_days")
    assert not days["met"] and days["why"] == "89 of 90 days in phase; met from 2026-04-15"
