"""2. Crash at any point: kill -9 while advancing a batch of aanpakken and while the scheduler sends."""

from __future__ import annotations

import pytest
import scenarios
from smtp_server import Server


@pytest.fixture
def server():
    with Server() as s:
        yield s


def test_fifty_kills_lose_nothing(db_url, server):
    held = scenarios.crash_at_any_point(db_url, kills=50, server=server)
    assert held["advancer kills"] == 25 and held["scheduler kills"] == 25
    assert held["states"] == {"sent": held["messages"]}, "after a clean sweep every message is sent"
    assert held["missing"] == [] and held["unknown"] == []
    # A duplicate only where a kill fell between the server's accept and the sweep's record.
    assert set(held["duplicates"]) == set(held["accepted_not_recorded_at_a_kill"])
    assert len(held["duplicates"]) <= held["scheduler kills"]
