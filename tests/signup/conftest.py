"""Fixtures of the kiosk's browser tests: one live site per module, a Chromium per test.

A module sets ``SERVICE_WORKERS = "block"`` when its tests route the kiosk's requests through
Playwright (a service worker would answer them first).
"""

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.signup.browser import CHROMIUM, CHROMIUM_ARGS, TABLET, Site, kiosk_site


@pytest.fixture(scope="module")
def site(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    with kiosk_site(django_db_blocker, tmp_path_factory.mktemp("kiosk")) as site:
        yield site


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Per test: Playwright's loop must be gone before pytest-django rolls the test back."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    blocked = getattr(request.module, "SERVICE_WORKERS", "allow") == "block"
    context = browser.new_context(
        viewport=TABLET, locale="en-US", service_workers="block" if blocked else "allow"
    )
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
