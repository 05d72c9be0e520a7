"""3. SMTP faults: the whole fault matrix as one scenario across scheduler restarts, counted at the server."""

from __future__ import annotations

import pytest
import scenarios
from smtp_server import Server


@pytest.fixture
def server():
    with Server() as s:
        yield s


def test_the_fault_matrix_across_restarts_loses_nothing_and_duplicates_only_what_was_in_flight(db_url, server):
    held = scenarios.smtp_faults(db_url, server)
    assert held["faults"] == {f: 1 for f in ("down", "421", "550", "drop", "slow", "kill", "healthy")}
    # Nothing lost: every message ends sent, or failed visibly with the server's answer (only the refused one).
    assert set(held["states"]) == {"sent", "failed"}
    assert held["failed_to"] == [scenarios.WR]
    assert held["failed_errors"] == [f"the server refused {scenarios.WR}: 550 5.1.1 <{scenarios.WR}>: "
                                     "Recipient address rejected"]
    assert held["missing"] == [] and held["failed_but_delivered"] == []
    # Twice only where the server accepted while the sender could not record it (a kill, or a reply too late).
    assert set(held["duplicates"]) <= set(held["accepted_not_recorded"])
