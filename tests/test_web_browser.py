"""A real browser (Debian's chromium through Selenium and chromedriver) using the served app as people do.

Screenshots of every step go into the test's tmp directory, or WIJKFLOW_SCREENSHOTS=DIR.
"""

from __future__ import annotations

import http.server
import logging
import threading
from collections.abc import Iterator

import pytest
from browserkit import browser_session  # noqa: F401  (the fixture)


@pytest.fixture(scope="module")
def static_page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("static")
    (root / "index.html").write_text("<!doctype html><html lang=nl><head><meta charset=utf-8><title>Proef</title>"
                                      "</head><body><h1>Mijn taken</h1><p>Één goedkeuring wacht.</p></body></html>",
                                      encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw) -> None:
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


def test_the_browser_runs_headless_here_without_downloading_anything(
        browser_session, static_page: str, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG, logger="selenium.webdriver.common.driver_finder")
    with browser_session("proef") as b:
        # Selenium Manager (which downloads drivers and browsers) is never started: the driver is given.
        assert "Skipping Selenium Manager" in caplog.text
        b.open(static_page)
        assert b.heading() == "Mijn taken"
        assert "Één goedkeuring wacht." in b.text()
        shot = b.shot("proef")
    assert shot.stat().st_size > 1000
