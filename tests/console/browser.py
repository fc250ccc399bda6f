"""The console in a real browser: Debian's chromium, driven by Selenium through Debian's
chromedriver (``scripts/browser.sh`` installs both; nothing is ever downloaded).

``browser`` is a headless chromium WebDriver; ``browser_console`` the console served
by uvicorn with a live refresh every second. The helpers act as a person does: fill
the sign-in form, click a button by its words, wait for words to show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver import Chrome
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from engine.settings import ConsoleSettings
from tests.conftest import service_missing
from tests.console.conftest import ConsoleHarness, base_settings

__all__ = [
    "browser",
    "browser_console",
    "chromium",
    "click_button",
    "console_errors",
    "other_hosts",
    "sign_in",
    "start_chromium",
    "wait_for",
    "wait_for_text",
]

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
WAIT_S = 15.0
"""The longest a step waits for the page before the test fails (a bound for a loaded CI
machine, not a figure the test checks)."""


def start_chromium(width: int = 1200, height: int = 900) -> Chrome:
    """A headless chromium of ``width`` x ``height`` pixels, driven through Debian's
    chromedriver: its path is given, so Selenium Manager never looks for a driver."""
    missing = [str(path) for path in (CHROMEDRIVER, CHROMIUM) if not path.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{' and '.join(missing)} missing: apt-get install chromium chromium-driver "
            "(or run scripts/browser.sh)"
        )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
        f"--window-size={width},{height}", "--no-first-run", "--disable-extensions",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@contextmanager
def chromium(width: int = 1200, height: int = 900) -> Iterator[Chrome]:
    """:func:`start_chromium`, quit at the end."""
    driver = start_chromium(width, height)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser() -> Iterator[Chrome]:
    """A headless chromium; a failure under CI when it is missing or will not start, a
    skip elsewhere."""
    try:
        driver = start_chromium()
    except (FileNotFoundError, WebDriverException) as error:
        service_missing("chromium", error)
        raise
    yield driver
    driver.quit()


@pytest.fixture
def browser_console(
    make_console: Callable[..., ConsoleHarness], redis_namespace: str
) -> ConsoleHarness:
    """The console served by uvicorn on a loopback port, its live part refreshed every 1 s."""
    settings = base_settings(redis_namespace, console=ConsoleSettings(refresh_s=1))
    return make_console(settings=settings)


def wait_for(driver: Chrome, condition: Callable[[Chrome], Any], what: str) -> Any:
    """What ``condition`` answers once it answers something true; fails after
    :data:`WAIT_S` saying ``what`` was awaited."""
    return WebDriverWait(driver, WAIT_S).until(condition, f"waited {WAIT_S} s for {what}")


def wait_for_text(driver: Chrome, text: str, *, within: str = "main") -> WebElement:
    """The element (CSS ``within``) once ``text`` shows in it."""

    def shown(d: Chrome) -> WebElement | None:
        found = d.find_elements(By.CSS_SELECTOR, within)
        return next((e for e in found if text in e.text), None)

    found: WebElement = wait_for(driver, shown, f"{text!r} in {within}")
    return found


def click_button(driver: Chrome, text: str, *, within: str = "main") -> None:
    """Click the first button (CSS ``within``) whose words are exactly ``text``, and wait
    for the page it leads to."""
    buttons = driver.find_elements(By.CSS_SELECTOR, f"{within} button")
    button = next((b for b in buttons if b.text.strip() == text), None)
    assert button is not None, f"no button {text!r}: {[b.text for b in buttons]}"
    button.click()
    wait_for(driver, lambda _: _stale(button), f"the page after {text!r}")


def sign_in(driver: Chrome, url: str, name: str, password: str) -> None:
    """Sign in through the form, as a person does, and wait for the overview."""
    driver.get(f"{url}/login")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(password)
    click_button(driver, "Sign in", within="form")
    wait_for(driver, lambda d: d.current_url.rstrip("/") == url, "the overview")


def other_hosts(driver: Chrome, url: str) -> list[str]:
    """The resources the page loaded from anywhere but ``url``; the page's own first."""
    names: list[str] = driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
    )
    assert f"{url}/static/console.css" in names, names  # the check sees what was loaded
    return [name for name in names if not name.startswith(f"{url}/")]


def console_errors(driver: Chrome) -> list[str]:
    """The errors the browser logged since last asked (a script or style the CSP refused,
    a resource that did not load)."""
    logged: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [entry["message"] for entry in logged if entry["level"] == "SEVERE"]


def _stale(element: WebElement) -> bool:
    try:
        element.is_enabled()
    except WebDriverException:
        return True
    return False
