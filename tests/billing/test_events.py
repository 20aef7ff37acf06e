"""Stripe's webhooks, duplicated and in any order, end in the same state as delivered in order.

A subscription lives a whole life in the fake Stripe (a trial, a card, a seat added, usage, a
declined renewal, the retry that pays it, a cancellation), its webhooks held back (manual mode)
and drained signed. Hypothesis then posts them to /stripe/webhook/ as Stripe might: shuffled,
some twice, each processed at once or left for the sweep. Whatever the order, the account
(status, access, period, seats), its invoices and its closes must end as in-order delivery left
them, and in-order delivery must match what Stripe has.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import services
from billing.models import (
    BillingAccount,
    CatalogPrice,
    InvoiceRecord,
    PeriodClose,
    StripeEvent,
    SubscriptionStatus,
)
from billing.stripe_fake.webhooks import SignedRequest
from tenants.models import Tenant, TenantAccess

from .conftest import Billing

pytestmark = pytest.mark.django_db

DAY = 86_400
HOUR = 3_600
#: Fields of the account that may differ between runs: when it was fetched, and bookkeeping.
_VOLATILE = {"synced_at", "updated_at", "created_at"}


@dataclass(frozen=True)
class Life:
    account_id: int
    subscription_id: str
    customer_id: str
    #: The account as sign-up left it (synced once, trialing), before any webhook.
    start: dict[str, Any]
    requests: list[SignedRequest]


def _when(epoch: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, tz=UTC) if epoch else None


def life_live(billing: Billing, tenant: Tenant) -> Life:
    """Drives one subscription from trial to cancellation; its webhooks are held, not sent."""
    client, fake = billing.client, billing.fake
    prices = {price.lookup_key: price for price in CatalogPrice.objects.all()}
    customer = client.v1.customers.create(
        params={"email": "owner@alice.example", "name": "Alice's Shop"}
    )
    fake.set_card(customer.id, "succeeds")
    subscription = client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [
                {"price": prices[services.TABLETS].stripe_price_id, "quantity": 2},
                {"price": prices[services.SIGNUPS].stripe_price_id},
            ],
            "trial_period_days": 14,
            "trial_settings": {"end_behavior": {"missing_payment_method": "pause"}},
        }
    )
    # What trial_signup_complete leaves: the account, synced once.
    account = BillingAccount.objects.create(
        tenant=tenant, stripe_customer_id=customer.id, stripe_subscription_id=subscription.id
    )
    account = services.account_sync(account=account)
    assert account.status == SubscriptionStatus.TRIALING
    start = {
        field.attname: getattr(account, field.attname)
        for field in BillingAccount._meta.concrete_fields
        if field.attname not in ("id", "tenant_id")
    }

    # The trial ends with a card: active, the first month's seats paid an hour later.
    fake.advance(14 * DAY + 2 * HOUR)
    # A tablet more, and usage over the allowance: the next invoice carries both.
    services.seats_sync(account=account, tablets=3)
    client.v1.billing.meter_events.create(
        params={
            "event_name": prices[services.SIGNUPS].meter_event_name,
            "identifier": "signups-life-1",
            "timestamp": fake.now() - HOUR,
            "payload": {"stripe_customer_id": customer.id, "value": "1300"},
        }
    )
    # The renewal is declined: past_due, retried three days later with a card that works.
    fake.set_card(customer.id, "declines")
    fake.advance(31 * DAY)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "past_due"
    fake.set_card(customer.id, "succeeds")
    fake.advance(3 * DAY + HOUR)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"
    # The owner cancels in the portal, at once.
    client.v1.subscriptions.cancel(subscription.id)
    requests = billing.webhooks()
    assert len(requests) >= 15
    return Life(account.pk, subscription.id, customer.id, start, requests)


def reset(life: Life) -> None:
    """Back to the moment before the first webhook: no events, invoices or closes stored."""
    StripeEvent.objects.all().delete()
    InvoiceRecord.objects.all().delete()
    PeriodClose.objects.all().delete()
    BillingAccount.objects.filter(pk=life.account_id).update(**life.start)
    tenant_id = BillingAccount.objects.get(pk=life.account_id).tenant_id
    Tenant.objects.filter(pk=tenant_id).update(access=TenantAccess.FULL)


def deliver(requests: list[SignedRequest], process_at_once: list[bool]) -> None:
    """Posts each request as Stripe would; processes it at once (the task) or leaves it for the
    sweep (a lost task), then the sweep runs."""
    client = Client(HTTP_HOST="localhost")
    for request, at_once in zip(requests, process_at_once, strict=True):
        response = client.generic(
            "POST",
            "/stripe/webhook/",
            request.body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=request.headers["Stripe-Signature"],
        )
        assert response.status_code == 200, response.content
        if at_once:
            services.event_process(event_id=response.json()["received"])
    services.events_process_pending()
    assert not StripeEvent.objects.filter(processed_at__isnull=True).exists()
    assert not StripeEvent.objects.exclude(error="").exists()


def outcome(life: Life) -> dict[str, Any]:
    account = BillingAccount.objects.select_related("tenant").get(pk=life.account_id)
    return {
        "account": {
            field.attname: getattr(account, field.attname)
            for field in BillingAccount._meta.concrete_fields
            if field.attname not in _VOLATILE
        },
        "access": account.tenant.access,
        "invoices": sorted(
            InvoiceRecord.objects.values_list(
                "stripe_invoice_id",
                "account_id",
                "number",
                "status",
                "currency",
                "amount_due",
                "amount_paid",
                "hosted_invoice_url",
                "period_start",
                "period_end",
                "attempt_count",
                "created",
            )
        ),
        "closes": sorted(
            PeriodClose.objects.values_list("account_id", "period_start", "period_end", "state")
        ),
        "events": StripeEvent.objects.count(),
    }


@pytest.fixture
def life(billing: Billing, alice_tenant: Tenant) -> Life:
    return life_live(billing, alice_tenant)


@pytest.fixture
def in_order(life: Life) -> dict[str, Any]:
    """The state delivery in order leaves, which is Stripe's."""
    reset(life)
    deliver(life.requests, [True] * len(life.requests))
    return outcome(life)


def test_in_order_delivery_ends_in_stripes_state(
    billing: Billing, life: Life, in_order: dict[str, Any]
) -> None:
    subscription = billing.client.v1.subscriptions.retrieve(life.subscription_id)
    item = next(i for i in subscription["items"].data if i.price.recurring.usage_type == "licensed")
    account = in_order["account"]
    assert account["status"] == subscription.status == SubscriptionStatus.CANCELED
    assert in_order["access"] == TenantAccess.SUSPENDED
    assert account["seats_billed"] == item.quantity == 3
    assert account["current_period_start"] == _when(item.current_period_start)
    assert account["current_period_end"] == _when(item.current_period_end)
    invoices = billing.client.v1.invoices.list(params={"customer": life.customer_id}).data
    assert {(row[0], row[3], row[5], row[6], row[10]) for row in in_order["invoices"]} == {
        (i.id, i.status, i.amount_due, i.amount_paid, i.attempt_count) for i in invoices
    }
    # The renewal was declined once, then paid: every invoice is paid now.
    assert {row[3] for row in in_order["invoices"]} == {"paid"}
    assert max(row[10] for row in in_order["invoices"]) == 2
    # The trial's end moved the period on: its close was opened.
    assert [row[1] for row in in_order["closes"]] == [life.start["current_period_start"]]
    assert in_order["events"] == len(life.requests)


@st.composite
def orders(draw: st.DrawFn, count: int) -> tuple[list[int], list[bool]]:
    """A shuffle of ``count`` deliveries with some sent again, each processed at once or not."""
    sequence = list(draw(st.permutations(range(count))))
    for index in draw(st.lists(st.integers(0, count - 1), max_size=count // 2)):
        sequence.insert(draw(st.integers(0, len(sequence))), index)
    at_once = draw(st.lists(st.booleans(), min_size=len(sequence), max_size=len(sequence)))
    return sequence, at_once


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_order_with_repeats_ends_as_in_order(
    life: Life, in_order: dict[str, Any], data: st.DataObject
) -> None:
    sequence, at_once = data.draw(orders(len(life.requests)))
    reset(life)
    deliver([life.requests[index] for index in sequence], at_once)
    assert outcome(life) == in_order
