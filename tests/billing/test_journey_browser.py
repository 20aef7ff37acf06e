"""Self-serve sign-up in a real headless Chromium: from the public landing page to the new shop's
portal, through the fake Stripe's own Checkout page, then the owner's billing page.

The plumbing is tests/signup/browser.py's: a ``runserver`` on this worker's test database and
Debian's Chromium (which resolves every ``*.localhost`` to loopback by itself, so the new
shop's host needs no DNS). Here the server is started with the Stripe settings of a fake Stripe
on a free port: the browser opens its Checkout page, and the fake sends its signed webhooks to
the server's /stripe/webhook/ with the secret the server was given. What the server commits
(catalog, sign-up, shop, events) is removed when the module is done.
"""

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from playwright.sync_api import Page, expect

from billing import services
from billing.models import (
    BillingAccount,
    CatalogPrice,
    InvoiceRecord,
    PeriodClose,
    StripeEvent,
    TrialSignup,
    UsageReport,
)
from billing.stripe_fake import StripeFake
from customerinfo.core.tenancy import use_public_schema
from tests.signup import conftest as signup_fixtures
from tests.signup.browser import (
    PHONE,
    TABLET,
    assert_accessible,
    horizontal_overflow,
    kiosk_tenant_remove,
    live_server,
    off_loop,
    wait_until,
)

pytestmark = [pytest.mark.django_db]  # see tests/signup/test_kiosk_browser.py

expect.set_options(timeout=10_000)

# A Chromium per test, as the kiosk's browser tests have it.
browser = signup_fixtures.browser
context = signup_fixtures.context
page = signup_fixtures.page

STRIPE_KEY = "sk_test_journey"
PASSWORD = "a-long-journey-password"


@dataclass
class Live:
    """The live server (public host at ``url``) with the fake Stripe it talks to."""

    url: str
    port: str
    fake: StripeFake
    blocker: Any
    slug: str

    def shop(self, path: str = "/") -> str:
        return f"http://{self.slug}.{settings.BASE_DOMAIN}:{self.port}{path}"

    def account(self) -> BillingAccount:
        return off_loop(self.blocker, lambda: BillingAccount.objects.get(tenant__slug=self.slug))

    def event_stored(self, kind: str) -> bool:
        return off_loop(self.blocker, lambda: StripeEvent.objects.filter(type=kind).exists())


def remove(slug: str, event_ids: set[str], catalog_before: set[int]) -> None:
    """Everything the journey committed: the shop and its account, the sign-up, the events and
    the catalog (other tests expect none)."""
    use_public_schema()
    TrialSignup.objects.filter(slug=slug).delete()
    accounts = BillingAccount.objects.filter(tenant__slug=slug)
    InvoiceRecord.objects.filter(account__in=accounts).delete()
    UsageReport.objects.filter(account__in=accounts).delete()
    PeriodClose.objects.filter(account__in=accounts).delete()
    accounts.delete()
    kiosk_tenant_remove(slug)
    StripeEvent.objects.filter(event_id__in=event_ids).delete()
    CatalogPrice.objects.exclude(pk__in=catalog_before).delete()


@pytest.fixture(scope="module")
def live(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    slug = f"journey-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    secret = f"whsec_{secrets.token_hex(16)}"
    off_loop(django_db_blocker, use_public_schema)
    catalog_before: set[int] = off_loop(
        django_db_blocker, lambda: set(CatalogPrice.objects.values_list("pk", flat=True))
    )
    off_loop(django_db_blocker, lambda: remove(slug, set(), catalog_before))  # an interrupted run
    fake = StripeFake()
    try:
        with (
            fake,
            override_settings(
                STRIPE_SECRET_KEY=STRIPE_KEY,
                STRIPE_API_BASE=fake.url,
                STRIPE_WEBHOOK_SECRETS=[secret],
                STRIPE_MAX_REQUESTS_PER_SECOND=0,
            ),
            pytest.MonkeyPatch.context() as environment,
        ):
            # The server reads its settings from the environment it is started with.
            environment.setenv("STRIPE_SECRET_KEY", STRIPE_KEY)
            environment.setenv("STRIPE_API_BASE", fake.url)
            environment.setenv("STRIPE_WEBHOOK_SECRET", secret)
            services.stripe_client_reset()
            off_loop(django_db_blocker, services.catalog_sync)
            # Ready when a shop's page answers: alice's (the public host has no kiosk page).
            host = f"alice.{settings.BASE_DOMAIN}"
            with live_server(host, tmp_path_factory.mktemp("journey")) as shop_url:
                port = shop_url.rsplit(":", 1)[1]
                public = f"http://{settings.BASE_DOMAIN}:{port}"
                fake.add_webhook_endpoint(f"{public}/stripe/webhook/", secret)
                yield Live(public, port, fake, django_db_blocker, slug)
    finally:
        services.stripe_client_reset()
        event_ids = {event["id"] for event in fake.events()}
        off_loop(django_db_blocker, lambda: remove(slug, event_ids, catalog_before))


def checked(page: Page, name: str) -> None:
    """No WCAG 2.1 A/AA violation and no sideways scrolling, on a tablet and on a phone.

    With KIOSK_SCREENSHOTS naming a folder (as for the kiosk's tests), each is saved there too.
    """
    folder = os.environ.get("KIOSK_SCREENSHOTS")
    for size in (TABLET, PHONE):
        page.set_viewport_size(size)
        assert_accessible(page)
        assert horizontal_overflow(page) == 0, f"{name} scrolls sideways at {size}"
        if folder:
            file = f"billing-{re.sub(r'[^a-z]+', '-', name)}-{size['width']}.png"
            page.screenshot(path=str(Path(folder) / file), full_page=True)
    page.set_viewport_size(TABLET)


def fact(page: Page, term: str) -> str:
    """The value of ``term`` in the billing page's summary."""
    value = page.locator("dl.summary dt", has_text=term).locator("xpath=following-sibling::dd[1]")
    return " ".join(value.inner_text().split())


def test_a_retailer_signs_up_and_lands_signed_in_on_their_shop(page: Page, live: Live) -> None:
    navigations: list[str] = []
    page.on("request", lambda r: navigations.append(r.url) if r.is_navigation_request() else None)

    # The public landing page, with the catalog's prices.
    page.goto(f"{live.url}/")
    pricing = page.get_by_role("region", name="Pricing")
    expect(pricing).to_contain_text("€15.00 a month")
    expect(pricing).to_contain_text("1,000 a month included, then €0.02 each")
    expect(pricing).to_contain_text("14 days, no card needed")
    checked(page, "landing")
    pricing.get_by_role("link", name="Start free trial").click()
    expect(page).to_have_url(f"{live.url}/start/")

    # Sent empty first: every field says what it needs.
    page.get_by_role("button", name="Continue to payment details").click()
    expect(page.get_by_label("Shop name")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Your email")).to_have_attribute("aria-invalid", "true")
    checked(page, "start with errors")

    page.get_by_label("Shop name").fill("Journey Bakery")
    address = page.get_by_label("Your shop's address")
    status = page.locator("#slug-status")
    address.fill("alice")
    expect(status).to_have_text("The address “alice” is already taken.")
    address.fill(live.slug)
    expect(status).to_have_text(f"✓ {live.slug}.{settings.BASE_DOMAIN} is free.")
    page.get_by_label("Your email").fill(f"owner@{live.slug}.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue to payment details").click()

    # The fake Stripe's Checkout: a trial without a card, and the billing address.
    expect(page).to_have_url(re.compile(re.escape(f"{live.fake.url}/checkout/cs_")))
    expect(page.get_by_text("Free for 14 days")).to_be_visible()
    page.get_by_label("No card for now").check()
    page.get_by_label("Name on card").fill("Ann Baker")
    page.get_by_label("Address", exact=True).fill("1 Rue de Rivoli")
    page.get_by_label("City").fill("Paris")
    page.get_by_label("Postal code").fill("75001")
    page.get_by_label("Country").fill("FR")
    page.get_by_role("button", name="Start trial").click()

    # Back through /start/done/ and the one-time welcome link, signed in on the new shop.
    expect(page).to_have_url(live.shop("/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Journey Bakery")
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(
        f"owner@{live.slug}.example (Owner)"
    )
    done = next(i for i, url in enumerate(navigations) if "/start/done/?session_id=cs_" in url)
    assert navigations[done].startswith(f"{live.url}/start/done/")
    assert navigations[done + 1].startswith(live.shop("/welcome/"))
    assert navigations[done + 2] == live.shop("/")

    # Stripe's webhook reached the server and was accepted with its secret.
    assert wait_until(lambda: live.event_stored("checkout.session.completed"), timeout=10)

    # The owner's billing page.
    page.get_by_role("navigation", name="Portal").get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Billing")
    account = live.account()
    assert account.trial_end is not None
    trial_end: datetime = account.trial_end
    assert fact(page, "Status") == "Trial"
    assert fact(page, "Trial ends") == f"{trial_end.day} {trial_end:%B %Y}"
    assert fact(page, "Tablets billed") == str(account.seats_billed)
    assert fact(page, "Sign-ups this period") == "0 of 1,000 included"
    checked(page, "billing")

    # The welcome link was spent: using it again signs nobody in.
    welcome = navigations[done + 1]
    fresh = page.context.browser
    assert fresh is not None
    other = fresh.new_page()
    other.goto(welcome)
    expect(other.get_by_role("alert")).to_contain_text("used already")
    other.close()


def test_sign_in_from_the_public_site_finds_the_shop(page: Page, live: Live) -> None:
    page.goto(f"{live.url}/")
    page.get_by_role("navigation", name="Account").get_by_role("link", name="Sign in").click()
    address = page.get_by_label("Your shop's address")
    address.fill("no-such-shop")
    page.get_by_role("button", name="Go to sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("No shop has this address")
    expect(address).to_have_attribute("aria-invalid", "true")
    checked(page, "find your shop, with an error")
    address.fill("alice")
    page.get_by_role("button", name="Go to sign in").click()
    expect(page).to_have_url(f"http://alice.{settings.BASE_DOMAIN}:{live.port}/login/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Alice's Shop")
    checked(page, "sign in")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reset your password")
    checked(page, "password reset")
