"""The web benchmark's workload (benchmarks/web_load.py) still builds what it measures: aanpakken whose
approval can be given, once, by any of the approvers, and read by the page's service.

The benchmark itself is a script outside the suite (it starts `wijkflow serve` and takes minutes);
this keeps its SQL cloning from silently breaking when the tables change underneath it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import web_load  # noqa: E402

from wijkflow import services  # noqa: E402
from wijkflow.app import App  # noqa: E402
from wijkflow.errors import Conflict  # noqa: E402
from wijkflow.services import tasks  # noqa: E402


def test_every_cloned_aanpak_awaits_its_approval_takes_it_once_and_is_timed_in_process(db_url: str) -> None:
    w = web_load.build(db_url, 6, approvers=3)
    assert w.slugs == [f"aanpak-{i}" for i in range(1, 7)] and len(w.approvers) == 3
    app = App.open(db_url)
    try:
        page = tasks.aanpak_page(app, "aanpak-3", w.approvers[2], locale="nl")
        assert [x["key"] for x in page["actions"]["approvals"]] == [web_load.CRITERION]
        services.approve(app, "aanpak-3", web_load.CRITERION, acting=w.approvers[2])
        with pytest.raises(Conflict):
            services.approve(app, "aanpak-3", web_load.CRITERION, acting=w.approvers[0])
    finally:
        app.close()
    got, posted = web_load.in_process(db_url, 2, w.slugs, w.slugs[3:], w.approvers)
    assert (len(got.latencies), len(posted.latencies), got.errors, posted.errors) == (6, 3, [], [])
    assert got.rate > 0 and posted.pct(0.99) >= posted.pct(0.5) > 0
    url = db_url if "://" in db_url else f"sqlite:///{db_url}"
    assert web_load.check_approved(url, w.slugs) == 4
