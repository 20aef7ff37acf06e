"""The retailer's side of the browser tests: the owner signed in on the live site, the two screen
sizes portal pages are checked at, and what a page may not carry under the strict
Content-Security-Policy (inline script, style attributes, on* handlers)."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from customerinfo.core.tenancy import use_public_schema
from tests.conftest import PASSWORD
from tests.signup.browser import Site, kiosk_site, off_loop

#: A head office's laptop and a phone.
LAPTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 844}

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
_STYLE_ATTRIBUTE = re.compile(r"<[a-z][^>]*\sstyle=", re.I)
_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+=", re.I)
_STYLE_ELEMENT = re.compile(r"<style[\s>]", re.I)


def inline_code(html: str) -> list[str]:
    """What of ``html`` a strict policy would block: empty when nothing."""
    found = []
    for name, pattern in [
        ("inline script", _INLINE_SCRIPT),
        ("style attribute", _STYLE_ATTRIBUTE),
        ("event handler attribute", _HANDLER),
        ("style element", _STYLE_ELEMENT),
    ]:
        if pattern.search(html):
            found.append(name)
    return found


@contextmanager
def public_kiosk_site(blocker: Any, log_folder: Path) -> Iterator[Site]:
    """The live e2e shop, made from the public schema whatever ran before on this worker (see
    test_preview_browser.py's ``site``)."""
    off_loop(blocker, use_public_schema)
    with kiosk_site(blocker, log_folder) as made:
        yield made


@contextmanager
def owner_signed_in(browser: Browser, site: Site) -> Iterator[BrowserContext]:
    """A browser with the shop's owner signed in, at laptop size."""
    context = browser.new_context(viewport=LAPTOP, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{site.url}/login/?next=/")
        page.get_by_label("Email").fill(f"owner@{site.tenant.tenant.slug}.example")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("navigation", name="Portal")).to_be_visible()
        page.close()
        yield context
    finally:
        context.close()


def open_page(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    response = page.goto(url)
    assert response is not None
    assert response.status == 200, (url, response.status)
    return page
