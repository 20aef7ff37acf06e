"""The language chooser in a real Chromium: a signed-in owner on a phone opens the account menu
and picks Français, the page comes back in French (``<html lang="fr">``, axe-core finding
nothing); then an anonymous visitor on a laptop picks Español on the sign-in page."""

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import Browser, ViewportSize, expect, sync_playwright

from customerinfo.core.accounts.models import User
from tests.signup.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    Site,
    assert_accessible,
    horizontal_overflow,
    off_loop,
)
from tests.signup.browser_portal import owner_signed_in, public_kiosk_site

pytestmark = [pytest.mark.django_db]  # the site commits for real (see test_kiosk_browser.py)
expect.set_options(timeout=10_000)

WIDE: ViewportSize = {"width": 1366, "height": 900}


@pytest.fixture(scope="module")
def site(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The live e2e shop, made from the public schema whatever ran before on this worker."""
    with public_kiosk_site(django_db_blocker, tmp_path_factory.mktemp("i18n")) as made:
        yield made


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Per test: Playwright's loop must be gone before pytest-django rolls the test back."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_an_owner_picks_french_and_a_visitor_spanish(browser: Browser, site: Site) -> None:
    owner_email = f"owner@{site.tenant.tenant.slug}.example"
    try:
        with owner_signed_in(browser, site) as owner:
            page = owner.new_page()
            page.set_viewport_size(PHONE)
            page.goto(f"{site.url}/")
            expect(page.locator("html")).to_have_attribute("lang", "en")
            page.locator("summary", has_text="Account").click()
            page.get_by_role("button", name="Français").click()
            expect(page.locator("html")).to_have_attribute("lang", "fr")
            expect(page).to_have_url(f"{site.url}/")
            expect(page.get_by_role("navigation", name="Portail")).to_be_visible()
            page.locator("summary", has_text="Compte").click()
            expect(page.get_by_role("button", name="Français")).to_have_attribute(
                "aria-current", "true"
            )
            assert horizontal_overflow(page) == 0
            assert_accessible(page)
        # The choice is the account's: it follows the owner into the emails sent to them.
        assert off_loop(site.blocker, lambda: _language_of(site, owner_email)) == "fr"

        visitor = browser.new_context(viewport=WIDE, locale="en-US")
        try:
            page = visitor.new_page()
            page.goto(f"{site.url}/login/")
            expect(page.locator("html")).to_have_attribute("lang", "en")
            page.get_by_role("button", name="Español").click()
            expect(page.locator("html")).to_have_attribute("lang", "es")
            expect(page).to_have_url(f"{site.url}/login/")
            expect(page.get_by_label("Contraseña")).to_be_visible()
            expect(page.get_by_role("button", name="Iniciar sesión")).to_be_visible()
            assert_accessible(page)
        finally:
            visitor.close()
    finally:
        # The committed shop is shared by the module's tests: leave the owner in English.
        off_loop(site.blocker, lambda: _set_language(site, owner_email, ""))


def _language_of(site: Site, email: str) -> str:
    with tenant_context(site.tenant.tenant):
        return User.objects.get(email=email).language


def _set_language(site: Site, email: str, language: str) -> None:
    with tenant_context(site.tenant.tenant):
        User.objects.filter(email=email).update(language=language)
