"""People flows in a real headless Chromium, against a live server with make run's mailbox:
an owner invites, the invitee follows the emailed link and lands signed in; a forgotten
password; the lockout page; two-step sign-in. Every page they cross passes axe-core's WCAG 2.1
A/AA rules.

The plumbing is the kiosk's (tests/signup/browser.py): a ``runserver`` on this worker's test
database, a shop committed for real and removed afterwards, Debian's Chromium.
"""

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import tenant_context
from playwright.sync_api import Locator, Page, expect

from customerinfo.core.accounts.models import Role, User
from tests.signup import conftest as signup_fixtures
from tests.signup.browser import (
    PHONE,
    TABLET,
    KioskTenant,
    assert_accessible,
    horizontal_overflow,
    kiosk_tenant_create,
    kiosk_tenant_remove,
    live_server,
    off_loop,
)

pytestmark = [pytest.mark.django_db]

expect.set_options(timeout=10_000)

browser = signup_fixtures.browser
context = signup_fixtures.context
page = signup_fixtures.page

OWNER_PASSWORD = "a-long-test-password"  # kiosk_tenant_create's owner
NEW_PASSWORD = "my-very-own-password-42"


@dataclass
class Live:
    shop_url: str
    public_url: str
    tenant: KioskTenant
    blocker: Any

    @property
    def owner(self) -> str:
        return f"owner@{self.tenant.tenant.slug}.example"

    def member_create(self, email: str, role: str = Role.MANAGER) -> None:
        def create() -> None:
            with tenant_context(self.tenant.tenant):
                User.objects.create_user(email, OWNER_PASSWORD, role=role)

        off_loop(self.blocker, create)

    def totp_code(self, email: str, steps_ahead: int = 0) -> str:
        def read() -> str:
            with tenant_context(self.tenant.tenant):
                device = TOTPDevice.objects.get(user__email=email)
            code = totp(device.bin_key, t0=device.t0, step=device.step, drift=steps_ahead)
            return f"{code:06d}"

        return off_loop(self.blocker, read)


def _forget(schema: str) -> None:
    AccessAttempt.objects.filter(username__startswith=f"{schema}:").delete()


@pytest.fixture(scope="module")
def live(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    slug = f"people-e2e-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    tenant = off_loop(django_db_blocker, lambda: kiosk_tenant_create(slug))
    schema = tenant.tenant.schema_name
    try:
        with pytest.MonkeyPatch.context() as environment:
            # The server keeps mail in its own corner of Redis, listed at /mail/.
            environment.setenv("DEV_MAILBOX", "1")
            environment.setenv("CACHE_KEY_PREFIX", f"people-e2e-{uuid.uuid4().hex}")
            with live_server(tenant.host, tmp_path_factory.mktemp("people")) as shop_url:
                port = shop_url.rsplit(":", 1)[1]
                public_url = f"http://{settings.BASE_DOMAIN}:{port}"
                yield Live(shop_url, public_url, tenant, django_db_blocker)
    finally:
        off_loop(django_db_blocker, lambda: _forget(schema))
        off_loop(django_db_blocker, lambda: kiosk_tenant_remove(slug))


def checked(page: Page) -> None:
    """No WCAG 2.1 A/AA violation and no sideways scrolling, on a tablet and on a phone."""
    for size in (TABLET, PHONE):
        page.set_viewport_size(size)
        assert_accessible(page)
        assert horizontal_overflow(page) == 0, f"{page.url} scrolls sideways at {size}"
    page.set_viewport_size(TABLET)


def sign_in(page: Page, live: Live, email: str, password: str) -> None:
    page.goto(f"{live.shop_url}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def open_mailed_link(page: Page, live: Live, to: str, path: str) -> None:
    """Opens make run's mailbox and follows the newest link to ``path`` mailed to ``to``."""
    page.goto(f"{live.public_url}/mail/")
    expect(page.get_by_role("heading", name="Mailbox")).to_be_visible()
    checked(page)
    mail = page.locator("article", has_text=to).first
    mail.locator(f'a[href*="{path}"]').click()


def account_menu(page: Page) -> Locator:
    """The header's account links, as a person reaches them: the "Account" disclosure opened."""
    menu = page.get_by_role("navigation", name="Account").locator("details")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    return menu


def test_an_owner_invites_and_the_invitee_lands_signed_in(page: Page, live: Live) -> None:
    sign_in(page, live, live.owner, OWNER_PASSWORD)
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Team")
    checked(page)
    page.get_by_label("Email").fill("dana@people.example")
    page.get_by_label("Name").fill("Dana")
    page.get_by_label("Role", exact=True).select_option("manager")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Invitation sent to dana@people.example")
    expect(page.get_by_role("row", name=re.compile("dana@people.example"))).to_contain_text(
        "Invited"
    )
    checked(page)

    # The invitee, in the same browser after the owner signs out.
    account_menu(page).get_by_role("button", name="Sign out").click()
    open_mailed_link(page, live, "dana@people.example", "/password/invitation/")
    expect(page).to_have_url(re.compile(r"/password/invitation/\w+/choose-password/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Join Kiosk E2E Shop")
    checked(page)
    page.get_by_label("Password", exact=True).fill("123")
    page.get_by_label("The same again").fill("123")
    page.get_by_role("button", name="Set my password and sign in").click()
    expect(page.get_by_text("This password is too short")).to_be_visible()
    checked(page)
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("The same again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set my password and sign in").click()
    expect(page).to_have_url(f"{live.shop_url}/")
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(
        "dana@people.example (Manager)"
    )
    expect(page.get_by_role("status").first).to_contain_text("Welcome to the team")


def test_a_forgotten_password_by_email(page: Page, live: Live) -> None:
    live.member_create("fred@people.example")
    page.goto(f"{live.shop_url}/login/")
    checked(page)
    page.get_by_role("link", name="Forgot your password?").click()
    checked(page)
    page.get_by_label("Email").fill("fred@people.example")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    open_mailed_link(page, live, "fred@people.example", "/password/reset/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    checked(page)
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("The same again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your password is set")
    sign_in(page, live, "fred@people.example", NEW_PASSWORD)
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("fred@people.example")


def test_too_many_wrong_passwords_show_a_clear_page(page: Page, live: Live) -> None:
    live.member_create("gina@people.example")
    for _ in range(4):
        sign_in(page, live, "gina@people.example", "not-it")
        expect(page.get_by_role("alert")).to_contain_text("Please enter a correct email")
    sign_in(page, live, "gina@people.example", "not-it")
    sign_in(page, live, "gina@people.example", OWNER_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in paused")
    expect(page.get_by_role("alert")).to_contain_text("Too many wrong passwords for this account")
    checked(page)


def test_two_step_sign_in_for_a_manager(page: Page, live: Live) -> None:
    live.member_create("hugo@people.example")
    sign_in(page, live, "hugo@people.example", OWNER_PASSWORD)
    account_menu(page).get_by_role("link", name="Two-step sign-in").click()
    checked(page)
    page.get_by_role("button", name="Set up two-step sign-in").click()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    checked(page)
    page.get_by_label("The 6-digit code the app shows now").fill(
        live.totp_code("hugo@people.example")
    )
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.get_by_role("heading", name="Your backup codes")).to_be_visible()
    checked(page)
    account_menu(page).get_by_role("button", name="Sign out").click()
    sign_in(page, live, "hugo@people.example", OWNER_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Type your sign-in code")
    checked(page)
    page.get_by_label("Code").fill(live.totp_code("hugo@people.example", steps_ahead=1))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("hugo@people.example")
