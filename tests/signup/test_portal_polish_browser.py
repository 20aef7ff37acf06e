"""The portal and the kiosk in a real headless Chromium under the strict Content-Security-Policy:
nothing refused, the header with the retailer's logo, one colour per kind of message, the menu
at phone width, the compact tablets overview and its "offline only" filter, and axe-core
finding no WCAG 2.1 AA violation at 1366 and 390 pixels wide."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from signup import services
from signup.models import Device, Location
from tests.conftest import PASSWORD
from tests.signup.browser import (
    PHONE,
    Site,
    assert_accessible,
    horizontal_overflow,
    off_loop,
    pair,
    sign_up,
)

pytestmark = [pytest.mark.django_db]  # the site commits for real (see test_kiosk_browser.py)
expect.set_options(timeout=10_000)

LAPTOP: ViewportSize = {"width": 1366, "height": 768}
#: The pages of the portal an owner reaches from its menu, plus the tablets filter.
PAGES = [
    "/",
    "/forms/",
    "/stores/",
    "/tablets/",
    "/tablets/?offline=1",
    "/signups/",
    "/crm/",
    "/billing/",
    "/settings/",
    "/settings/notifications/",
    "/team/",
    "/audit/",
]
#: Records what the page's policy refused, from the first script on (not itself subject to it).
WATCH_CSP = """
window.__refused = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__refused.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
TABLETS = 42


class Refusals:
    """Every CSP refusal a page met: from its own event and from the console."""

    def __init__(self, context: BrowserContext) -> None:
        self.console: list[str] = []
        context.add_init_script(WATCH_CSP)
        context.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def of(self, page: Page) -> list[str]:
        seen: list[str] = page.evaluate("() => window.__refused || []")
        return seen + self.console


@pytest.fixture
def portal(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=LAPTOP, locale="en-US")
    yield context
    context.close()


def sign_in(page: Page, site: Site, next_path: str = "/") -> None:
    page.goto(f"{site.url}/login/")
    page.get_by_label("Email").fill(f"owner@{site.tenant.tenant.slug}.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#portal-menu")).to_be_attached()
    if next_path != "/":
        page.goto(f"{site.url}{next_path}")


def enrol_tablets(site: Site, count: int) -> None:
    """``count`` tablets over the e2e shop's stores; every third has been offline for an hour."""

    def enrol() -> None:
        with tenant_context(site.tenant.tenant):
            if Device.objects.filter(name__startswith="Overview ").count() >= count:
                return
            stores = list(Location.objects.order_by("pk"))
            now = timezone.now()
            for number in range(count):
                _, code = services.pairing_code_create(
                    actor=None,
                    location=stores[number % len(stores)],
                    device_name=f"Overview {number:02}",
                )
                device, _ = services.device_pair(code=code)
                seen = now - timedelta(hours=1) if number % 3 == 0 else now
                Device.objects.filter(pk=device.pk).update(last_seen_at=seen)

    off_loop(site.blocker, enrol)


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["1366", "390"])
def test_every_portal_page_loads_under_the_policy_and_is_accessible(
    portal: BrowserContext, site: Site, size: ViewportSize
) -> None:
    refusals = Refusals(portal)
    page = portal.new_page()
    page.set_viewport_size(size)
    sign_in(page, site)
    for path in PAGES:
        response = page.goto(f"{site.url}{path}")
        assert response is not None, path
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "camera=()" in response.headers["permissions-policy"]
        assert refusals.of(page) == [], path
        assert_accessible(page)
        assert horizontal_overflow(page) == 0, path


def test_the_builder_and_its_preview_frame_need_nothing_refused(
    portal: BrowserContext, site: Site
) -> None:
    refusals = Refusals(portal)
    page = portal.new_page()
    sign_in(page, site, "/forms/")
    page.get_by_role("link", name="Kiosk", exact=True).first.click()
    expect(page.get_by_role("heading", name="Preview on the tablet")).to_be_visible()
    expect(page.frame_locator("#preview-frame").locator("form.signup")).to_be_visible()
    page.get_by_role("tab", name="Look").click()  # the builder's tabs are builder.js's
    expect(page.get_by_label("Upload a logo")).to_be_visible()
    assert refusals.of(page) == []


def test_the_kiosk_signs_a_shopper_up_under_the_policy(
    context: BrowserContext, page: Page, site: Site
) -> None:
    refusals = Refusals(context)
    pair(page, site)
    sign_up(page, "csp-shopper@example.com", first_name="Ada")
    site.wait_for_email("csp-shopper@example.com", page=page)
    assert refusals.of(page) == []


def test_the_header_shows_the_logo_and_the_phone_menu_reaches_sign_out(
    portal: BrowserContext, site: Site
) -> None:
    page = portal.new_page()
    page.set_viewport_size(PHONE)
    sign_in(page, site)
    logo = page.locator("header .brand img.brand-logo")
    expect(logo).to_have_attribute("alt", site.tenant.tenant.name)
    # Loaded, not only named: a broken image has no width (waited for: it may still be coming).
    page.wait_for_function(
        "() => { const logo = document.querySelector('.brand-logo');"
        " return logo.complete && logo.naturalWidth > 0; }"
    )
    # The page list folds behind "Menu" on a phone, and opens in place.
    menu = page.locator("#portal-menu > summary")
    expect(menu).to_be_visible()
    expect(page.get_by_role("link", name="Stores")).to_be_hidden()
    menu.click()
    expect(page.get_by_role("link", name="Stores")).to_be_visible()
    page.locator(".account-menu > summary").click()
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()
    box = sign_out.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE["width"]
    assert horizontal_overflow(page) == 0
    assert_accessible(page)
    sign_out.click()
    expect(page.get_by_label("Password")).to_be_visible()
    # On a wide screen the list is simply there, with no "Menu" to press.
    page.set_viewport_size(LAPTOP)
    sign_in(page, site)
    expect(page.locator("#portal-menu > summary")).to_be_hidden()
    expect(page.get_by_role("link", name="Stores")).to_be_visible()


def expect_colours(page: Page, selector: str, colours: tuple[str, str]) -> None:
    """The box's background and text colour, waited for: read at once after a redirect, the
    computed style can still be the browser's default while the stylesheet loads."""
    box = page.locator(selector)
    expect(box).to_have_css("background-color", colours[0])
    expect(box).to_have_css("color", colours[1])


GREEN = ("rgb(230, 244, 234)", "rgb(17, 99, 41)")
RED = ("rgb(253, 232, 236)", "rgb(164, 0, 29)")


def test_success_is_green_warning_amber_error_red(portal: BrowserContext, site: Site) -> None:
    page = portal.new_page()
    sign_in(page, site, "/stores/")
    page.get_by_role("link", name="Rivoli").click()
    page.get_by_role("button", name="Save store").click()
    expect(page.locator(".messages li.success")).to_contain_text("saved")
    expect_colours(page, ".messages li.success", GREEN)
    assert_accessible(page)
    page.goto(f"{site.url}/forms/")
    page.get_by_role("link", name="Kiosk", exact=True).first.click()
    # The logo is on the Look tab; builder.js hides the other tabs once the page has loaded.
    page.get_by_role("tab", name="Look").click()
    page.get_by_role("button", name="Upload logo").click()  # no file chosen
    expect(page.locator(".messages li.error")).to_contain_text("Choose an image file")
    expect_colours(page, ".messages li.error", RED)
    assert_accessible(page)


def test_forty_two_tablets_fit_a_screen_and_filter_to_the_offline_ones(
    portal: BrowserContext, site: Site
) -> None:
    enrol_tablets(site, TABLETS)
    page = portal.new_page()
    sign_in(page, site, "/tablets/")
    tiles = page.locator(".tablet-tile")
    assert tiles.count() >= TABLETS
    top = page.evaluate("() => document.querySelector('.tablet-grid').getBoundingClientRect().top")
    bottom = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('.tablet-tile')]"
        ".map((tile) => tile.getBoundingClientRect().bottom))"
    )
    # About one 768-pixel screen: the old layout, a table a store, took 4,941 pixels.
    assert bottom - top <= LAPTOP["height"] * 1.25
    offline = page.locator(".tablet-tile.tile-offline").count()
    assert offline >= TABLETS // 3
    page.get_by_label("Offline only").check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/tablets/?offline=1")
    expect(page.locator(".tablet-tile")).to_have_count(offline)
    expect(page.locator(".tablet-tile.tile-online")).to_have_count(0)
    expect(page.get_by_label("Offline only")).to_be_checked()
    assert_accessible(page)
    page.set_viewport_size(PHONE)
    assert horizontal_overflow(page) == 0
    assert_accessible(page)
