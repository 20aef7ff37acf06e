"""The journey in a real Chromium: an owner ticks a staff member under "Staff who work here" on a
store's page (at phone width, axe-core finding nothing), and that staff member then signs in to
a portal that shows that store only, at tablet and phone width."""

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import Browser, expect

from customerinfo.core.accounts.models import Role, User
from signup.models import StoreAssignment
from tests.conftest import PASSWORD
from tests.signup.browser import (
    PHONE,
    TABLET,
    Site,
    assert_accessible,
    horizontal_overflow,
    off_loop,
)
from tests.signup.browser_portal import owner_signed_in

pytestmark = [pytest.mark.django_db]  # the site commits for real (see test_kiosk_browser.py)
expect.set_options(timeout=10_000)


def test_an_owner_limits_a_staff_member_to_one_store(browser: Browser, site: Site) -> None:
    email = f"limited@{site.tenant.tenant.slug}.example"

    def hire() -> None:
        with tenant_context(site.tenant.tenant):
            StoreAssignment.objects.filter(user__email=email).delete()
            if not User.objects.filter(email=email).exists():
                User.objects.create_user(email, PASSWORD, full_name="Lee Limited", role=Role.STAFF)

    off_loop(site.blocker, hire)
    soho = site.tenant.locations["soho"]
    with owner_signed_in(browser, site) as owner:
        page = owner.new_page()
        page.set_viewport_size(PHONE)
        page.goto(f"{site.url}/stores/{soho}/")
        staff = page.get_by_label(f"Lee Limited ({email})")
        expect(staff).not_to_be_checked()
        assert horizontal_overflow(page) == 0
        assert_accessible(page)
        staff.check()
        page.get_by_role("button", name="Save store").click()
        expect(page.get_by_text("Store “SoHo” saved.")).to_be_visible()

    context = browser.new_context(viewport=TABLET, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{site.url}/login/?next=/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#limited-to")).to_contain_text("SoHo")
        stores = page.locator("#per-store").locator("xpath=..")
        expect(stores).to_contain_text("SoHo")
        expect(stores).not_to_contain_text("Rivoli")
        expect(page.locator("#crm-health")).to_have_count(0)
        assert_accessible(page)
        page.set_viewport_size(PHONE)
        page.goto(f"{site.url}/tablets/")
        expect(page.get_by_role("heading", name="SoHo")).to_be_visible()
        expect(page.get_by_role("heading", name="Rivoli")).to_have_count(0)
        assert horizontal_overflow(page) == 0
        assert_accessible(page)
    finally:
        context.close()
        off_loop(site.blocker, lambda: _forget(site, email))


def _forget(site: Site, email: str) -> None:
    """The committed shop is shared by the module's tests: leave no limit behind."""
    with tenant_context(site.tenant.tenant):
        StoreAssignment.objects.filter(user__email=email).delete()
