"""A destination page with a long history, in Chromium at tablet and phone size: the newest
deliveries, the note that older ones are not listed, the delivered tally; nothing inline, no
sideways scroll, and axe-core finding no WCAG 2.1 AA violation."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from playwright.sync_api import Browser, expect, sync_playwright

from outbox.models import DeliveryTally
from tests.signup.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PHONE,
    TABLET,
    Site,
    assert_accessible,
    horizontal_overflow,
    off_loop,
)
from tests.signup.browser_portal import inline_code, open_page, owner_signed_in, public_kiosk_site

from .factories import webhook_destination

pytestmark = [pytest.mark.django_db]  # the site commits for real (see test_kiosk_browser.py)
expect.set_options(timeout=10_000)

#: More than the page lists (crm_sync.selectors.PAGE_COUNT_CAP), delivered, one a minute.
_HISTORY = """
INSERT INTO public.crm_outbox_delivery (
    tenant_id, destination_id, submission_id, status, attempts, next_attempt_at, last_error,
    created_at, updated_at, delivered_at
)
SELECT %(tenant)s, %(destination)s, gen_random_uuid(), 'delivered', 1, moment, '', moment,
    moment, moment
FROM (SELECT now() - n * interval '1 minute' AS moment FROM generate_series(1, 10050) AS n) AS s
"""


@pytest.fixture
def browser() -> Iterator[Browser]:
    """As tests/signup/conftest.py's: Playwright's loop ends before the test is rolled back."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    with public_kiosk_site(django_db_blocker, tmp_path_factory.mktemp("history")) as made:
        yield made


def test_a_long_history_in_chromium_at_tablet_and_phone_size(browser: Browser, site: Site) -> None:
    def seed() -> int:
        tenant = site.tenant.tenant
        with tenant_context(tenant):
            destination = webhook_destination(url="https://crm.example.com/hook", name="Big CRM")
        with connection.cursor() as cursor:
            cursor.execute(_HISTORY, {"tenant": tenant.pk, "destination": destination.pk})
        DeliveryTally.objects.create(
            tenant=tenant, destination_id=destination.pk, delivered=123_456
        )
        return destination.pk

    destination_id = off_loop(site.blocker, seed)
    with owner_signed_in(browser, site) as owner:
        page = open_page(owner, f"{site.url}/crm/{destination_id}/")
        expect(page.get_by_text("Delivered (all time)")).to_be_visible()
        expect(page.get_by_text("123,456")).to_be_visible()
        expect(
            page.get_by_text("(the newest 10000 deliveries; older ones are not listed)")
        ).to_be_visible()
        page.get_by_role("link", name="Older").click()
        expect(page.get_by_text("Page 2 of 200")).to_be_visible()
        assert inline_code(page.content()) == []
        for size in (TABLET, PHONE):
            page.set_viewport_size(size)
            assert_accessible(page)
            assert horizontal_overflow(page) == 0, size
