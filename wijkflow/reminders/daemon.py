"""`wijkflow scheduler run`: APScheduler 3.x in the foreground, waking the sweep up.

APScheduler holds only two in-memory jobs: a periodic sweep, and a one-off wake-up at the
next moment something falls due. Reminders themselves are never APScheduler jobs: the
database decides what is due, so several schedulers on one database stay correct.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .. import store
from ..errors import WijkflowError
from .sweep import sweep

log = logging.getLogger(__name__)


def run_scheduler(app: Any, *, interval: float = 300, echo: Callable[[str], None] = print,
                  install_signals: bool = True, once: bool = False,
                  after_sweep: Callable[[], None] | None = None) -> Any:
    """`after_sweep`: other periodic work the caller hands in (the audit checkpoint), run after each sweep."""
    if once:
        # One sweep and out (a check after installing, or a test); errors reach the caller.
        result = sweep(app)
        echo(f"sweep: {result.sent} sent, {result.retrying} to retry, {result.failed} failed, "
             f"{result.cancelled} cancelled")
        if after_sweep is not None:
            after_sweep()
        return None
    from apscheduler.schedulers.blocking import BlockingScheduler  # the APScheduler seam: only the daemon needs it

    scheduler = BlockingScheduler(timezone=UTC)
    busy = threading.Lock()
    stopping = threading.Event()

    def wake() -> None:
        if not busy.acquire(blocking=False):
            return  # a sweep is running; it will see whatever is due
        try:
            result = sweep(app, stop=stopping.is_set)
            if result.sent or result.failed or result.retrying or result.cancelled:
                echo(f"sweep: {result.sent} sent, {result.retrying} to retry, {result.failed} failed, "
                     f"{result.cancelled} cancelled")
            if after_sweep is not None:
                after_sweep()
            with app.db.read() as conn:
                nxt = store.next_wake(conn)
            real_now = datetime.now(UTC)
            if nxt is not None and nxt < real_now + timedelta(seconds=interval):
                scheduler.add_job(wake, "date", run_date=max(nxt, real_now) + timedelta(seconds=1), id="wake",
                                  replace_existing=True, misfire_grace_time=None)
        except WijkflowError as exc:
            log.error("sweep failed: %s", exc)
            echo(f"sweep failed: {exc}")
        finally:
            busy.release()

    scheduler.add_job(wake, "interval", seconds=interval, id="sweep", next_run_time=datetime.now(UTC),
                      max_instances=1, coalesce=True, misfire_grace_time=None)

    def stop(signum: int, _frame: Any) -> None:
        echo(f"received {signal.Signals(signum).name}; stopping after the messages in hand (at most one batch)")
        stopping.set()
        scheduler.shutdown(wait=False)

    if install_signals:
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    echo(f"wijkflow scheduler: sweeping every {interval:g} s (and when something falls due); "
         "stop with Ctrl-C or SIGTERM")
    scheduler.start()
    # start() returns once shut down; wait for a sweep in progress so nothing is left half-recorded.
    with busy:
        pass
    echo("wijkflow scheduler stopped")
    return scheduler
