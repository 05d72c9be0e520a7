"""2. Crash at any point: kill -9 while advancing a batch of aanpakken and while the scheduler sends."""

from __future__ import annotations

import scenarios

KILLS = scenarios.scaled(30)


def test_kills_of_advancing_processes_and_real_schedulers_lose_nothing(db_url, server):
    """Every other kill hits a real `wijkflow reminders send` process while it sends (every other of
    those in digest mode); the rest a process advancing a batch of aanpakken through the API."""
    held = scenarios.crash_at_any_point(db_url, kills=KILLS, server=server)
    assert held["advancer kills"] == (KILLS + 1) // 2
    assert held["scheduler kills"] + held.get("schedulers that finished before the kill", 0) == KILLS // 2
    assert held["scheduler kills"] >= KILLS // 4 and held["digest kills"] >= 1 and held["digests"] >= 1
    assert held["states"] == {"sent": held["messages"]}, "after a clean sweep every message is sent"
    assert held["missing"] == [] and held["unknown"] == []
    # A duplicate only where a kill fell between the server's accept and the sweep's record.
    assert set(held["duplicates"]) == set(held["accepted_not_recorded_at_a_kill"])
    scenarios.record("crash", db_url, kills=held["advancer kills"] + held["scheduler kills"],
                     scheduler_kills=held["scheduler kills"], digest_kills=held["digest kills"],
                     messages=held["messages"], received=held["received"], duplicates=len(held["duplicates"]),
                     lost=len(held["missing"]))
