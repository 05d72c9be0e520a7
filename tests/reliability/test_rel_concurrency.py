"""1. Concurrent writers: most commands as real `wijkflow` processes (new, deadline, complete, approve,
advance, measure), the rest through the Python API in parallel, on the same few aanpakken."""

from __future__ import annotations

import subprocess

import scenarios

API_PROCESSES, CLI_PROCESSES = 2, 6
API_COMMANDS, CLI_COMMANDS = scenarios.scaled(20), scenarios.scaled(8)


def test_writers_lose_nothing_and_every_success_is_its_events(db_url):
    held = scenarios.concurrent_writers(db_url, processes=API_PROCESSES, commands=API_COMMANDS,
                                        cli_processes=CLI_PROCESSES, cli_commands=CLI_COMMANDS)
    assert held["crashes"] == [], "\n".join(held["crashes"][:3])
    assert held["cli_commands"] > held["commands"] - held["cli_commands"], "most commands are real processes"
    assert sum(held["ok"].values()) + sum(held["refused"].values()) == held["commands"]
    # Busy and conflict are refusals with exit 6, never a crash (exit 1); other refusals are gates or phases.
    assert set(held["refused"]) <= {2, 3, 4, 5, 6}
    # Every successful command wrote exactly its events, and nothing else was written.
    assert held["new_events"] == held["expected_events"]
    assert {"advance", "complete", "new", "deadline"} <= set(held["ok"]), held["ok"]
    check = scenarios.check_invariants(db_url)
    scenarios.record("concurrency", db_url, commands=held["commands"], cli_commands=held["cli_commands"],
                     ok=sum(held["ok"].values()), refused=sum(held["refused"].values()),
                     events=sum(held["new_events"].values()), lost=0, chain_events=check.get("events"))


def test_six_inits_at_once_all_succeed(db_url):
    """Found by this suite: on PostgreSQL concurrent `wijkflow init`s raced on the catalog (exit 1 / 6)."""
    procs = [subprocess.Popen([*scenarios.wijkflow_command(), "init"], env=scenarios.cli_env(db_url),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
    results = [(p.returncode, err) for p in procs for _, err in [p.communicate(timeout=60)]]
    assert results == [(0, "")] * 6
    scenarios.check_invariants(db_url)
