"""The request pages in a real browser: Debian's Chromium, headless, driven by Selenium through
/usr/bin/chromedriver, against the intake service served by uvicorn on a free port.

Screenshots of each page are kept in test-artifacts/screenshots/ (gitignored) for a reviewer.
Without chromium these tests skip locally and fail in CI (GTM_FEEDBACK_REQUIRE_POSTGRES set).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gtm_feedback_dagster.config import load_secrets, load_settings
from gtm_feedback_dagster.store.db import session_scope
from gtm_feedback_dagster.store.schema import OutboxMessage

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
]


def _require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        message = f"browser tests need {', '.join(missing)}"
        if os.environ.get("GTM_FEEDBACK_REQUIRE_POSTGRES", "") not in ("", "0", "false"):
            pytest.fail(message)
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(web_env, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, object]]:
    _require_browser()
    import uvicorn

    from gtm_feedback_dagster.intake.app import create_app
    from gtm_feedback_dagster.runtime import Runtime

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("GTM_FEEDBACK_APP_URL", base)
    app = create_app(runtime=Runtime.from_settings(load_settings(), load_secrets()))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield base, web_env[0], web_env[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[object]:
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="gtm-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _click_and_wait(driver, element) -> None:  # type: ignore[no-untyped-def]
    """Click something that loads a new page, and wait until the old page is gone."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def old_page_gone(_driver) -> bool:  # type: ignore[no-untyped-def]
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            # Mid-navigation Chromium answers this instead of "stale element" (seen in CI).
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    element.click()
    WebDriverWait(driver, 15).until(old_page_gone)
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def _shot(driver, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))


def test_sign_in_browse_follow_slack_link_and_triage(served, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    from tests.web.support import issue_link

    base, url, seed = served
    driver = browser

    # No session: any page sends us to the sign-in form.
    driver.get(f"{base}/requests")
    assert "/login" in driver.current_url
    _shot(driver, "01-login")

    # Sign in with a one-time link (what `gtm-feedback web-login` prints).
    link = issue_link("ann@example.com", base)
    driver.get(link)
    _shot(driver, "02-login-link")
    _click_and_wait(driver, driver.find_element(By.ID, "continue"))
    assert driver.current_url.endswith("/requests")
    assert "ann@example.com" in driver.find_element(By.CSS_SELECTOR, "header").text
    _shot(driver, "03-requests")

    # Sort by ARR: the $150K request comes first.
    _click_and_wait(driver, driver.find_element(By.ID, "sort-entries"))
    _click_and_wait(driver, driver.find_element(By.ID, "sort-arr"))
    assert "sort=arr" in driver.current_url
    first = driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr a.req")[0]
    assert first.text == "Dark mode"
    _shot(driver, "04-requests-by-arr")

    # Open a request from the list.
    _click_and_wait(driver, first)
    assert driver.current_url.endswith("/requests/dark-mode")
    assert driver.find_element(By.ID, "title").text == "Dark mode"
    assert "$150.0K" in driver.find_element(By.ID, "revenue").text
    _shot(driver, "05-request")

    # Hostile strings show as text, nothing runs.
    driver.get(f"{base}/requests/{seed.hostile_slug}")
    assert "<script>" in driver.find_element(By.ID, "title").text
    assert not driver.find_elements(By.CSS_SELECTOR, "main img")
    _shot(driver, "06-request-hostile")

    # The area page with its report.
    driver.get(f"{base}/areas/dashboards")
    assert driver.find_element(By.CSS_SELECTOR, "article.report h1").text == "Dashboards"
    _shot(driver, "07-area")

    # Triage: attach the approval that waited two days; it leaves the list.
    driver.get(f"{base}/triage")
    _shot(driver, "08-triage")
    item = driver.find_element(By.ID, f"ask-{seed.approval}")
    _click_and_wait(driver, item.find_element(By.CSS_SELECTOR, "button.attach"))
    assert "/triage" in driver.current_url
    assert not driver.find_elements(By.ID, f"ask-{seed.approval}")
    assert "approved" in driver.find_element(By.ID, "done").text
    _shot(driver, "09-triage-resolved")

    # Keep both on the duplicate pair: gone too.
    pair = f"pair-{seed.base.dark_mode}-{seed.twin}"
    _click_and_wait(
        driver, driver.find_element(By.ID, pair).find_element(By.CSS_SELECTOR, "button.keep")
    )
    assert not driver.find_elements(By.ID, pair)

    # The attach queued a Slack confirmation: follow the request link in its body.
    with session_scope(url) as s:
        texts = [
            m.text
            for m in s.scalars(select(OutboxMessage).where(OutboxMessage.request_id.is_not(None)))
        ]
    links = [u for t in texts for u in re.findall(r"(https?://[^\s|>)]+/requests/[^\s|>)]+)", t)]
    assert links, texts
    driver.get(links[0])
    assert driver.find_element(By.ID, "title").text == "Dark mode"
    assert "Darker charts" in driver.find_element(By.ID, "entries").text
    _shot(driver, "10-from-slack-link")

    # An unknown page is the HTML error page, not JSON.
    driver.get(f"{base}/requests/dark-mode/no-such-page")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Page not found."
    _shot(driver, "11-not-found")
