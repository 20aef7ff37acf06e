"""The sign-ups included each month come from the price the retailer's subscription is on, not
from what the catalog sells today: a retailer on an older price keeps its own allowance."""

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context
from pytest_django import Settings

from billing import services
from billing.models import SIGNUPS, BillingAccount, CatalogPrice
from billing.services.accounts import included_signups
from customerinfo.core.accounts.models import User
from tenants.models import Tenant
from tests.conftest import login
from tests.signup.factories import kiosk_create, submission_create

from .conftest import Billing
from .pages import text_of
from .subscribers import subscribe

pytestmark = pytest.mark.django_db


def _fact(client: Client) -> str:
    page = text_of(client.get("/billing/"))
    return page.split("Sign-ups this period", 1)[1].split("Next invoice", 1)[0].strip()


@pytest.fixture
def charlie_owner(charlie_client: Client, charlie_tenant: Tenant, charlie: User) -> Client:
    login(charlie_client, charlie_tenant, charlie)
    return charlie_client


def test_a_retailer_on_an_older_price_sees_its_own_allowance(
    billing: Billing,
    settings: Settings,
    alice_tenant: Tenant,
    owner_client: Client,
    charlie_owner: Client,
) -> None:
    alice = subscribe(billing, alice_tenant)
    older = alice.signups_price_id
    assert (older, alice.included_signups) == (
        CatalogPrice.objects.get(lookup_key=SIGNUPS).stripe_price_id,
        1000,
    )
    # The allowance is lowered: a new price takes the lookup key over; alice keeps hers.
    settings.BILLING_INCLUDED_SIGNUPS = 250
    services.catalog_sync()
    catalog = CatalogPrice.objects.get(lookup_key=SIGNUPS)
    assert catalog.stripe_price_id != older
    assert catalog.tiers[0]["up_to"] == 250
    charlie_account = subscribe(billing, Tenant.objects.get(slug="charlie"))
    assert (charlie_account.signups_price_id, charlie_account.included_signups) == (
        catalog.stripe_price_id,
        250,
    )

    assert _fact(owner_client).startswith("0 of 1,000 included")
    assert _fact(charlie_owner).startswith("0 of 250 included")


def test_the_allowance_is_read_with_the_subscription_and_the_price_only_once(
    billing: Billing, alice_tenant: Tenant
) -> None:
    account = subscribe(billing, alice_tenant)
    price = account.signups_price_id
    # A subscription found by listing the customer's (no id yet): Stripe expands four levels
    # at most, so the price's tiers are fetched on their own, this once.
    BillingAccount.objects.filter(pk=account.pk).update(
        stripe_subscription_id="", signups_price_id="", included_signups=None, synced_at=None
    )
    account.refresh_from_db()
    before = len(billing.fake.requests)
    account = services.account_sync(account=account)
    assert [r.path for r in billing.fake.requests[before:]] == [
        "/v1/subscriptions",
        f"/v1/prices/{price}",
    ]
    assert (account.signups_price_id, account.included_signups) == (price, 1000)
    # The price is known now: the next listing reuses it (a price never changes its tiers).
    BillingAccount.objects.filter(pk=account.pk).update(stripe_subscription_id="")
    account.refresh_from_db()
    before = len(billing.fake.requests)
    account = services.account_sync(account=account)
    assert [r.path for r in billing.fake.requests[before:]] == ["/v1/subscriptions"]
    assert account.included_signups == 1000


def test_over_the_allowance_is_said(
    billing: Billing, alice_tenant: Tenant, owner_client: Client
) -> None:
    account = subscribe(billing, alice_tenant)
    BillingAccount.objects.filter(pk=account.pk).update(included_signups=0)
    with tenant_context(alice_tenant):
        submission_create(kiosk_create().device, "ann@example.com")
    assert _fact(owner_client).startswith("1 of 0 included — the rest are billed per sign-up")


@pytest.mark.parametrize(
    ("tiers", "included"),
    [
        ([{"up_to": 500, "unit_amount_decimal": "0"}, {"up_to": None, "unit_amount": 2}], 500),
        ([{"up_to": 500, "unit_amount": 0, "unit_amount_decimal": None}], 500),
        ([{"up_to": 500, "unit_amount_decimal": "1"}, {"up_to": None, "unit_amount": 1}], None),
        ([{"up_to": 500, "unit_amount": 0, "flat_amount": 900}], None),
        ([{"up_to": None, "unit_amount_decimal": Decimal("0")}], None),
        ([], None),
        (None, None),
    ],
)
def test_only_a_free_first_tier_is_an_allowance(tiers: Any, included: int | None) -> None:
    assert included_signups(tiers) == included
