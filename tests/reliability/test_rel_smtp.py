"""3. SMTP faults: the whole fault matrix as one scenario across scheduler restarts, counted at the server."""

from __future__ import annotations

import scenarios


def test_the_fault_matrix_across_restarts_loses_nothing_and_duplicates_only_what_was_in_flight(db_url, server):
    held = scenarios.smtp_faults(db_url, server)
    assert held["faults"] == {f: 1 for f in scenarios.FAULTS}
    # Nothing lost: every message ends sent, or failed visibly with the server's answer (only the refused one).
    assert set(held["states"]) == {"sent", "failed"}
    # Failed only where the server said no for good: the refused recipient (550 at RCPT) and the
    # messages it refused after DATA (554); every temporary fault (421 at greeting, MAIL or RCPT, a hang,
    # a drop in or after DATA, a timeout) was retried and sent later.
    assert held["failed_to"] == sorted([scenarios.SG1, scenarios.WR])
    after_data, at_rcpt = sorted(held["failed_errors"])
    assert at_rcpt == f"the server refused {scenarios.WR}: 550 5.1.1 <{scenarios.WR}>: Recipient address rejected"
    assert after_data.startswith("the server at 127.0.0.1:") and after_data.endswith(
        " answered 554 5.6.0 Message content rejected")
    assert held["missing"] == [] and held["failed_but_delivered"] == []
    # Twice only where the server accepted while the sender could not record it (a kill, or a reply too late).
    assert set(held["duplicates"]) <= set(held["accepted_not_recorded"])
    scenarios.record("smtp", db_url, faults=len(held["faults"]), messages=held["messages"],
                     received=held["received"], failed=len(held["failed_to"]), lost=len(held["missing"]))
