"""The daily loop, walked end to end (issue 12, "Done when"): import, import again, a wrong figure
corrected, an approval withdrawn and given again, suspend and resume, stop. At every step the
history, `show --as-of`, the gate and `audit verify` agree."""

from __future__ import annotations

import json

from conftest import ADMIN, PL, SG1, WR

from wijkflow import services
from wijkflow.services import audit as audit_service
from wijkflow.services.asof import show_as_of

REF = "wijkaanpak-noord"
CSV = ("name,wijk,gemeente,workflow,phase,since,leader,coordinators,approvers,indicators,target_date\n"
       f"Wijkaanpak Noord,Noord,Hengelo,wijkaanpak,monitor,2026-01-05,{PL},{WR},{SG1},actieve_bewoners=12->20,"
       "2027-12-31\n")


def agree(app, clock, *, last: str) -> dict:
    """History, the live gate, show --as-of today and the audit chain tell one story; the live view."""
    live = services.show_aanpak(app, REF)
    past = show_as_of(app, REF, clock.now.date().isoformat())
    assert (past["phase"], past["status"], past["name"]) == (live["phase"], live["status"], live["name"])
    for g_live, g_past in zip(live["gates"], past["gates"], strict=True):
        assert [(c["key"], c["met"]) for c in g_live["criteria"]] == [(c["key"], c["met"]) for c in g_past["criteria"]]
    assert services.history(app, REF)[-1]["type"] == last
    verdict = audit_service.verify(app)  # raises AuditFailed when any event does not verify
    assert verdict["ok"] and verdict["checked"] >= past["events_replayed"]
    # as-of replayed every event of this aanpak: the history and the replay are the same events
    assert past["events_replayed"] == len(services.history(app, REF))
    return live


def met(view: dict, key: str, to: str = "evaluate") -> bool:
    gate = next(g for g in view["gates"] if g["to"] == to)
    return next(c for c in gate["criteria"] if c["key"] == key)["met"]


def test_the_daily_loop_holds(app, people, run, db_state, clock, tmp_path):
    path = tmp_path / "portfolio.csv"
    path.write_text(CSV, encoding="utf-8")

    # import, and import again: all unchanged, nothing written
    assert run("import", str(path), user=ADMIN).exit_code == 0
    view = agree(app, clock, last="indicator_added")
    assert not met(view, "metingen")
    before = db_state()
    r = run("import", str(path), "--format", "json", user=ADMIN)
    assert r.exit_code == 0 and json.loads(r.stdout)["counts"] == {"new": 0, "unchanged": 1, "updated": 0,
                                                                   "conflict": 0}
    assert db_state() == before

    # a wrong measurement, corrected
    clock.forward(1)
    r = run("measure", REF, "actieve_bewoners", "150", user=WR)
    assert r.exit_code == 0 and "(measurement #1)" in r.stdout
    assert met(agree(app, clock, last="measurement_recorded"), "metingen")
    clock.forward(hours=1)
    assert run("measure", REF, "--correct", "1", "15", "--reason", "Een nul te veel", user=WR).exit_code == 0
    view = agree(app, clock, last="measurement_corrected")
    assert met(view, "metingen") and services.progress(app, REF)[0]["latest"] == 15

    # an approval withdrawn and given again
    assert run("approve", REF, "doelen_bereikt", "--comment", "Doelen gehaald", user=SG1).exit_code == 0
    assert met(agree(app, clock, last="criterion_approved"), "doelen_bereikt")
    r = run("approve", REF, "doelen_bereikt", "--comment", "Nogmaals", user=SG1)
    assert r.exit_code == 6 and "already approved by Robert Olde Heuvel" in r.stderr
    clock.forward(hours=1)
    assert run("withdraw", REF, "doelen_bereikt", "--reason", "Te vroeg: eerst de rapportage", user=SG1).exit_code == 0
    assert not met(agree(app, clock, last="criterion_withdrawn"), "doelen_bereikt")
    clock.forward(hours=1)
    assert run("approve", REF, "doelen_bereikt", "--comment", "Nu met rapportage", user=SG1).exit_code == 0
    view = agree(app, clock, last="criterion_approved")
    assert met(view, "doelen_bereikt")

    # suspend and resume
    clock.forward(1)
    assert run("suspend", REF, "--reason", "Wachten op de begroting", user=PL).exit_code == 0
    assert agree(app, clock, last="aanpak_suspended")["status"] == "suspended"
    clock.forward(1)
    assert run("resume", REF, user=PL).exit_code == 0
    assert agree(app, clock, last="aanpak_resumed")["status"] == "active"

    # stop: final, every change refused, and the past still as it was
    clock.forward(1)
    assert run("stop", REF, "--reason", "Besluit gemeenteraad", user=PL).exit_code == 0
    view = agree(app, clock, last="aanpak_stopped")
    assert (view["status"], view["phase"]) == ("stopped", "monitor")
    before = db_state()
    r = run("measure", REF, "actieve_bewoners", "16", user=WR)
    assert r.exit_code == 2 and "is stopped (Stopgezet)" in r.stderr
    assert db_state() == before
    assert show_as_of(app, REF, "2026-03-04")["status"] == "suspended"
    history = run("history", REF).stdout
    for line in ("measurement corrected: actieve_bewoners 150 -> 15", "withdrawn: doelen_bereikt", "suspended",
                 "resumed", "stopped"):
        assert line in history, line
    assert run("audit", "verify").exit_code == 0
