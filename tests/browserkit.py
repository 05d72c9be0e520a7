"""A real browser for the tests: Debian's chromium, driven by Selenium through Debian's chromedriver.

Nothing is downloaded: the driver's path is given to Selenium's `Service`, so Selenium Manager
(which would fetch a browser and a driver from the internet) is never started, and the browser
runs with its background networking off. CI installs `chromium` and `chromium-driver` (.ci/run) and
sets WIJKFLOW_REQUIRE_BROWSER, so there a missing browser fails; elsewhere the browser tests skip and
say why.

    from browserkit import Browser, browser_session  # noqa: F401  (the fixture)

    def test_x(browser_session):
        with browser_session() as b:   # a fresh profile: its own cookies
            b.open(url); b.shot("step")

Screenshots go into the test's tmp_path, or into WIJKFLOW_SCREENSHOTS=DIR when that is set
(to look at them after a run).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("WIJKFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("WIJKFLOW_CHROMEDRIVER", "/usr/bin/chromedriver")

# --no-sandbox: CI and this sandbox run as root, where chromium refuses its sandbox.
# --disable-dev-shm-usage: containers have a small /dev/shm. The rest keeps the browser off the network
# (no component updates, no safe-browsing lists, no first-run pages) so a test never waits for it.
FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
    "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
    "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
    "--metrics-recording-only", "--safebrowsing-disable-auto-update", "--lang=nl-NL",
)


def missing() -> str | None:
    """Why no browser can run here, or None."""
    for what, path in (("chromium", CHROMIUM), ("chromedriver (Debian package chromium-driver)", CHROMEDRIVER)):
        if not (Path(path).is_file() and os.access(path, os.X_OK)) and not shutil.which(path):
            return f"{what} is not installed at {path}; CI installs it (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    return None


class Browser:
    """One browser profile (its own cookies), with the few actions a user takes."""

    def __init__(self, driver, shots: Path, name: str, numbers: Iterator[int]) -> None:
        self.driver = driver
        self.shots = shots
        self.numbers = numbers  # shared by the module's sessions: the files sort in the order taken
        self.name = name
        self.taken: list[Path] = []
        self.complaints: list[str] = []  # console errors seen at each screenshot, "step: message"

    # --- looking ---
    def open(self, url: str) -> None:
        self.driver.get(url)

    @property
    def url(self) -> str:
        return str(self.driver.current_url)

    @property
    def title(self) -> str:
        return str(self.driver.title)

    def text(self) -> str:
        """What a user reads on the page (rendered text, not the HTML)."""
        from selenium.webdriver.common.by import By

        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def heading(self) -> str:
        from selenium.webdriver.common.by import By

        return str(self.driver.find_element(By.TAG_NAME, "h1").text)

    def section(self, heading_id: str) -> str:
        """The text of the section labelled by the heading with this id (aria-labelledby)."""
        from selenium.webdriver.common.by import By

        found = self.driver.find_elements(By.CSS_SELECTOR, f"section[aria-labelledby={heading_id}]")
        if not found:
            raise AssertionError(f"{self.name}: no section '{heading_id}' on {self.url}:\n{self.text()}")
        return str(found[0].text)

    def fact(self, label: str) -> str:
        """The value beside a bold label in a list of facts (<li><b>Fase</b>Initiëren</li>)."""
        from selenium.webdriver.common.by import By

        for li in self.driver.find_elements(By.CSS_SELECTOR, "li"):
            bold = li.find_elements(By.CSS_SELECTOR, "b")
            if bold and bold[0].text.strip().casefold() == label.casefold():  # CSS may show it in capitals
                return str(li.text)[len(bold[0].text):].strip()
        raise AssertionError(f"{self.name}: no fact '{label}' on {self.url}:\n{self.text()}")

    def cookie(self, name: str) -> dict:
        found = self.driver.get_cookie(name)
        if found is None:
            names = [c["name"] for c in self.driver.get_cookies()]
            raise AssertionError(f"{self.name}: no cookie {name}; there are {names}")
        return dict(found)

    def console(self) -> list[str]:
        """What the browser's console said since the last call, errors only (a style or script the
        Content-Security-Policy refused, a file that did not load)."""
        return [str(e["message"]) for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def shot(self, step: str) -> Path:
        """A screenshot of the whole page (the window made as tall as the content) named after the step; the
        console's errors so far are kept in `complaints`."""
        self.driver.set_window_size(1280, 700)  # first small: a page is never shorter than its window
        height, chrome = self.driver.execute_script(
            "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]")
        self.driver.set_window_size(1280, max(700, min(int(height) + int(chrome), 6000)))
        slug = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        path = self.shots / f"{next(self.numbers):02d}-{self.name}-{slug}.png"
        self.driver.save_screenshot(str(path))
        self.taken.append(path)
        self.complaints += [f"{step}: {message}" for message in self.console()]
        return path

    # --- doing ---
    def click(self, text: str, *, within: str = "body") -> None:
        """Click the link or button whose visible text (or value) contains `text`."""
        self.element(text, within=within).click()

    def element(self, text: str, *, within: str = "body"):
        from selenium.webdriver.common.by import By

        scope = self.driver.find_element(By.CSS_SELECTOR, within)
        for el in scope.find_elements(By.CSS_SELECTOR, "a, button, input[type=submit]"):
            label = (el.text or el.get_attribute("value") or "").strip()
            if text.lower() in label.lower() and el.is_displayed():
                return el
        labels = [(e.text or e.get_attribute("value") or "").strip()
                  for e in scope.find_elements(By.CSS_SELECTOR, "a, button, input[type=submit]")]
        raise AssertionError(f"{self.name}: no link or button '{text}' on {self.url}; there are: {labels}")

    def fill(self, name: str, value: str) -> None:
        from selenium.webdriver.common.by import By

        el = self.driver.find_element(By.NAME, name)
        el.clear()
        el.send_keys(value)

    def wait_for(self, predicate: Callable[[Browser], bool], what: str, timeout: float = 10) -> None:
        from selenium.common.exceptions import WebDriverException

        def holds() -> bool:
            try:
                return predicate(self)
            except WebDriverException:  # the page is still being replaced: ask again
                return False

        deadline = time.monotonic() + timeout
        while not holds():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: waited {timeout} s for {what}; at {self.url}:\n{self.text()}")
            time.sleep(0.05)


def _driver(*, javascript: bool = True):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console: CSP refusals, failed loads
    if not javascript:  # pages run no script at all (Selenium's own execute_script still works)
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    # A path given to Service: Selenium Manager is skipped (it would try to download a driver).
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


def screenshot_dir(tmp_path: Path) -> Path:
    chosen = os.environ.get("WIJKFLOW_SCREENSHOTS")
    path = Path(chosen) if chosen else tmp_path / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], object]]:
    """Open browser sessions (`with browser_session("robert") as b:`), each with a fresh profile;
    `javascript=False` turns scripts off for the pages; every one still open is closed at the end of
    the module."""
    why = missing()
    if why and os.environ.get("WIJKFLOW_REQUIRE_BROWSER"):
        pytest.fail(f"WIJKFLOW_REQUIRE_BROWSER is set (CI) but {why}")
    if why:
        pytest.skip(why)
    shots = screenshot_dir(tmp_path_factory.mktemp("browser"))
    drivers: list = []
    numbers = itertools.count(1)

    @contextmanager
    def _session(name: str, *, javascript: bool = True) -> Iterator[Browser]:
        driver = _driver(javascript=javascript)
        drivers.append(driver)
        try:
            yield Browser(driver, shots, name, numbers)
        finally:
            driver.quit()
            drivers.remove(driver)

    yield _session
    for driver in drivers:
        driver.quit()
