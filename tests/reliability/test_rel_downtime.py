"""4. Downtime: the scheduler is stopped, the clock jumps 100 days across the switch to summer time."""

from __future__ import annotations

import scenarios


def test_after_100_days_down_every_due_reminder_goes_once_and_repeating_rules_catch_up_once(
        db_url, server, tmp_path):
    held = scenarios.downtime(db_url, server, tmp_path / "workflows", days=100)
    assert held["due_in_gap"] > 0 and {"every", "after", "before", "overdue", "stalled"} <= set(held["kinds"])
    assert held["still_pending"] == []
    # Each repeating rule: one catch-up in the gap (not seven), the next period after the restart, at 09:00.
    assert len(held["every_sent_per_rule"]) == 4 and set(held["every_sent_per_rule"].values()) == {1}
    assert held["every_next_period"] == [2, 2, 8, 8]  # quarterly: period 2 next; fortnightly: 1-7 passed, 8 next
    assert held["next_every_after_end"] and held["next_every_due_local"] == ["09:00 CEST"]
    assert held["states"] == {"sent": held["messages"]}
    assert held["duplicates"] == [] and held["missing"] == []
    scenarios.check_invariants(db_url)
