"""The console in a real browser: sign in through the form, open every page, act by
clicking, and find the result in the database; the live refresh replaces the figures
in place; no page loads anything from another host, and the browser logs no error (a
script or a style the CSP refused would be one).

One browser session walks the whole path (starting chromium is the slow part). Each
step is a small function of the driver, so a page's step is added where it belongs.
"""

from __future__ import annotations

from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from sqlalchemy import select

from engine.tables import C, E, R
from tests import seed
from tests.console.browser import (  # noqa: F401 (fixtures)
    browser,
    browser_console,
    click_button,
    console_errors,
    other_hosts,
    sign_in,
    wait_for,
    wait_for_text,
)
from tests.console.conftest import PASSWORDS, ConsoleHarness
from tests.console.replied_lead import replied_lead

PAGES = {
    "/": "Overview",
    "/campaigns": "Campaigns",
    "/leads": "Leads",
    "/replies": "Replies",
    "/dead-letters": "Dead letters",
    "/do-not-contact": "Do not contact",
    "/activity": "Activity",
}
"""Every page of the navigation and its title."""


def open_every_page(driver: Chrome, url: str) -> None:
    for path, title in PAGES.items():
        driver.get(f"{url}{path}")
        assert driver.title == f"{title} · outreach", path
        current = driver.find_element(By.CSS_SELECTOR, "nav a[aria-current='page']")
        assert current.text == title, path
        assert other_hosts(driver, url) == [], path
        assert console_errors(driver) == [], path


def retry_a_dead_letter(driver: Chrome, console: ConsoleHarness, url: str) -> None:
    with console.database.session() as session:
        retried = seed.dead_letter(session, "+40712000001", failed_at=console.clock.now())
    driver.get(f"{url}/dead-letters")
    wait_for_text(driver, "+40712000001", within="[data-live]")
    click_button(driver, "Retry")
    wait_for_text(driver, "1 step(s) due again", within=".note")
    with console.database.engine.connect() as connection:
        row = connection.execute(select(E.c.step_state, E.c.due_at).where(E.c.id == retried)).one()
    assert tuple(row) == ("due", console.clock.now())
    driver.get(f"{url}/activity")
    wait_for_text(driver, f"enrollment {retried}", within="[data-live]")


def pause_and_resume_a_campaign(driver: Chrome, console: ConsoleHarness, url: str) -> None:
    with console.database.session() as session:
        campaign = seed.campaign_id(session, "spring", sequence="intro")
    driver.get(f"{url}/campaigns")
    driver.find_element(By.LINK_TEXT, "spring").click()
    wait_for_text(driver, "Campaign spring", within="h1")
    click_button(driver, "Pause")
    wait_for_text(driver, "Campaign spring is paused", within=".note")
    assert campaign_state(console, campaign) == "paused"
    click_button(driver, "Resume")
    wait_for_text(driver, "Campaign spring is active again", within=".note")
    assert campaign_state(console, campaign) == "active"
    driver.get(f"{url}/activity")
    wait_for_text(driver, "pause campaign", within="[data-live]")


def resolve_a_review_flag(driver: Chrome, console: ConsoleHarness, url: str) -> None:
    flagged = replied_lead(console.database, console.clock.now(), phone="+40712349999")
    driver.get(f"{url}/replies")
    wait_for_text(driver, "+40712349999")
    click_button(driver, "Resolve")
    wait_for_text(driver, f"Review flag {flagged.flag_id} resolved", within=".note")
    with console.database.engine.connect() as connection:
        row = connection.execute(
            select(R.c.resolved_at, R.c.resolved_by).where(R.c.id == flagged.flag_id)
        ).one()
    assert row.resolved_at is not None and row.resolved_by == "ana"


def campaign_state(console: ConsoleHarness, campaign: int) -> str:
    with console.database.engine.connect() as connection:
        state: str = connection.execute(select(C.c.state).where(C.c.id == campaign)).scalar_one()
    return state


def live_refresh_replaces_the_figures(driver: Chrome, console: ConsoleHarness, url: str) -> None:
    driver.get(f"{url}/dead-letters")
    wait_for_text(driver, "No dead letters", within="[data-live]")
    driver.execute_script("window.stillTheSamePage = true;")
    with console.database.session() as session:
        seed.dead_letter(session, "+40712000002", failed_at=console.clock.now())
    region = wait_for_text(driver, "+40712000002", within="[data-live]")
    assert region.get_attribute("data-refreshed")  # put there by live.js, not a reload
    assert driver.execute_script("return window.stillTheSamePage === true;")


def test_an_operator_signs_in_opens_every_page_and_acts(
    browser: Chrome,  # noqa: F811
    browser_console: ConsoleHarness,  # noqa: F811
) -> None:
    url = str(browser_console.client.base_url).rstrip("/")
    sign_in(browser, url, "ana", PASSWORDS["ana"])
    wait_for_text(browser, "What stops sending now")
    open_every_page(browser, url)
    retry_a_dead_letter(browser, browser_console, url)
    pause_and_resume_a_campaign(browser, browser_console, url)
    resolve_a_review_flag(browser, browser_console, url)
    live_refresh_replaces_the_figures(browser, browser_console, url)
    assert console_errors(browser) == []
