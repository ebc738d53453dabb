"""Playwright on Debian's Chromium (installed with apt-get when missing; Playwright's own browser
downloads are never used), a paper kernel trading behind a real API server, and a signed-in page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright
from tests._paper_api import PaperApi, paper_api
from tests._tools import require_tool

SCREENSHOTS = Path(__file__).with_name("screenshots")
VIEWPORT = {"width": 1400, "height": 1000}


@pytest.fixture(scope="session")
def chromium() -> str:
    return require_tool("chromium", "chromium")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium: str) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def paper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PaperApi]:
    with paper_api(tmp_path_factory.mktemp("dashboard")) as api:
        yield api


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test; any script error on the page fails the test."""
    # Playwright's own polling (wait_for_function) evaluates strings, which the page's strict
    # Content-Security-Policy refuses; the policy itself is checked in test_web_assets.py
    context = browser.new_context(viewport=VIEWPORT, bypass_csp=True)  # type: ignore[arg-type]
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("console", lambda m: errors.append(m.text) if _script_error(m.type, m.text) else None)
    yield opened
    context.close()
    assert errors == [], f"errors on the page: {errors}"


@pytest.fixture
def signed_in(page: Page, paper: PaperApi) -> Callable[[str], Page]:
    """Sign in with a new token of ``role``; the page with the dashboard on screen."""

    def sign_in(role: str) -> Page:
        page.goto(paper.url)
        page.fill("#login-token", paper.token(role))
        page.click("#login-submit")
        page.wait_for_selector("#app:not([hidden])")
        expect(page.locator("#ws-status")).to_have_text("live")
        return page

    return sign_in


def _script_error(kind: str, text: str) -> bool:
    """A console error, but not the browser's note of an HTTP error answer (tests ask for some)."""
    return kind == "error" and not text.startswith("Failed to load resource")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
