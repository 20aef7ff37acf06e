"""A month in the life of billing: 50 retailers from their first day to the month-end close.

Every retailer has a real schema (cloned, as a sign-up makes it), a paired tablet, a Stripe
customer and a subscription made through the API of the fake Stripe, and a ``BillingAccount``
synced from it, as ``trial_signup_complete`` leaves one. Then January 2040 passes: shoppers sign
up every day, tablets are paired and revoked, a trial ends without a card and pauses, a renewal
is declined and paid on the retry, one retailer cancels at once and one at the end of the period;
the hourly job runs once a simulated day, webhooks are delivered as they come. Around the
month's end the jobs run as beat runs them (the hourly one at ten past, the close every five
minutes) until every invoice is final.

Clocks: the fake Stripe's clock is ``time.time()`` plus an offset it only ever increases (its
``advance``), and time-machine moves ``time.time()`` for every thread, the fake's included. So
this test never calls ``advance``: moving Django's clock moves the fake's with it, and the fake
does the work that became due (trial ends, renewals, finalisations, retries) at its next request
(or ``catch_up``). The clock only moves forward, as the fake requires.

What must hold at the end: every account in the state its subscription says; every period that
ended has one close, reconciled exactly (ours == Stripe's summary == the sign-ups received in the
period's hours == the usage on Stripe's invoice), one of them after a correction for a meter
event Stripe lost; and running the jobs again sends nothing to Stripe and writes nothing.
"""

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine
from django.db.models import Sum
from django.utils import timezone
from django_tenants.utils import tenant_context
from pytest_django import DjangoDbBlocker
from stripe.params import SubscriptionCreateParams

from billing import services
from billing.models import (
    BillingAccount,
    CatalogPrice,
    CloseState,
    InvoiceRecord,
    PeriodClose,
    StripeEvent,
    SubscriptionStatus,
    UsageReport,
)
from customerinfo.core.tenancy import use_public_schema
from signup import services as signup_services
from signup.models import Device
from tenants.models import Tenant, TenantAccess
from tenants.schemas import schema_drop
from tenants.services import tenant_create
from tests.signup.factories import Kiosk, kiosk_create

from .conftest import Billing

pytestmark = pytest.mark.django_db

SHOPS = 50
START = datetime(2040, 1, 1, tzinfo=UTC)
MONTH_END = datetime(2040, 2, 1, tzinfo=UTC)
#: Cohorts, by shop number. Most subscribe at 00:00:05 on the first, paying from day one.
HALF_PAST = {40, 41, 42}  # subscribe at 00:30: their period ends in the middle of an hour
PAUSES = 43  # a 14-day trial without a card, which pauses at its end
DECLINED = 44  # a 7-day trial whose card declines the first invoice, then works on the retry
CANCELS_NOW = 45  # cancels on the 20th, at once
CANCELS_AT_END = 46  # cancels on the 20th, at the end of the period
SEATS = 0  # pairs two tablets on the 5th and revokes one on the 12th, told at once
SWEPT = 2  # pairs a tablet on the 6th whose message is lost: the hourly sweep bills it
LOST = 1  # Stripe loses one of its meter events: the close corrects it
#: Shops whose tablets take sign-ups every day.
SIGNING_UP = {0, 1, 2, 3, 4, 5, 6, 7, 40, 41, PAUSES, DECLINED, CANCELS_NOW, CANCELS_AT_END}
#: Shops whose January period ends and is invoiced with its usage.
MONTHLY = set(range(SHOPS)) - {PAUSES, DECLINED, CANCELS_NOW}


@dataclass
class Shop:
    number: int
    tenant: Tenant
    kiosk: Kiosk
    customer_id: str = ""
    subscription_id: str = ""
    account_id: int = 0
    #: The first billing period (or the trial), as Stripe set it when the subscription began.
    period: tuple[datetime, datetime] = (START, START)
    extra_tablets: list[Device] = field(default_factory=list)
    received: list[datetime] = field(default_factory=list)

    def account(self) -> BillingAccount:
        return BillingAccount.objects.select_related("tenant").get(pk=self.account_id)


@dataclass
class Month:
    billing: Billing
    traveller: time_machine.Traveller
    shops: list[Shop]
    rng: random.Random

    def at(self, moment: datetime) -> None:
        assert moment >= timezone.now(), "the fake's clock only moves forward"
        self.traveller.move_to(moment)

    def deliver(self) -> None:
        """The webhooks the fake has sent by now, received and processed."""
        self.billing.fake.catch_up()
        assert set(self.billing.deliver()) <= {200}
        assert not StripeEvent.objects.filter(processed_at__isnull=True).exists()
        assert not StripeEvent.objects.exclude(error="").exists()

    def hourly(self) -> None:
        """billing.tasks.usage_hourly, with the webhooks that came before it."""
        self.deliver()
        services.usage_count()
        services.usage_send()
        services.seats_sync_all()

    def close(self) -> None:
        """billing.tasks.periods_close."""
        self.deliver()
        outcome = services.periods_close()
        assert not set(outcome) & {CloseState.FAILED, CloseState.MISMATCH}, outcome

    def sign_ups(self, shops: set[int], most: int) -> None:
        for number in sorted(shops):
            shop = self.shops[number]
            with tenant_context(shop.tenant):
                for _ in range(self.rng.randint(0, most)):
                    submission, created = signup_services.submission_create(
                        device=shop.kiosk.device,
                        submission_id=uuid.uuid4(),
                        form_version_id=shop.kiosk.version.pk,
                        locale="en",
                        captured_at=timezone.now(),
                        answers={"email": f"{uuid.uuid4().hex[:12]}@shoppers.example"},
                        consents={"email": True},
                    )
                    assert created
                    shop.received.append(submission.received_at)

    def status(self, number: int) -> tuple[str, str]:
        account = self.shops[number].account()
        return account.status, account.tenant.access


@pytest.fixture(scope="module")
def premises(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker
) -> Iterator[list[tuple[Tenant, Kiosk]]]:
    """Fifty retailers, each with its schema (cloned, as every sign-up makes it) and a store
    with a paired tablet, made once for the module and committed, then dropped.

    Not inside the test's transaction: a clone creates some 150 relations, and a transaction
    holds a lock on each until it ends; fifty clones would ask PostgreSQL's shared lock table
    (64 locks per connection by default) for more room than it has.
    """
    made: list[tuple[Tenant, Kiosk]] = []
    with django_db_blocker.unblock():
        try:
            for number in range(SHOPS):
                tenant = tenant_create(
                    name=f"Shop {number}",
                    slug=f"shop{number:02d}",
                    owner_email=f"owner@shop{number:02d}.example",
                    owner_password_hash="!",  # no one signs in: spare the password hashing
                    provision_now=True,
                )
                with tenant_context(tenant):
                    made.append((tenant, kiosk_create()))
            yield made
        finally:
            use_public_schema()
            for tenant, _ in made:
                schema_drop(schema_name=tenant.schema_name)
            Tenant.objects.filter(pk__in=[tenant.pk for tenant, _ in made]).delete()


def subscribe(billing: Billing, shop: Shop) -> None:
    """Customer and subscription made through the API, then the account as sign-up makes it."""
    client = billing.client
    prices = {price.lookup_key: price for price in CatalogPrice.objects.all()}
    customer = client.v1.customers.create(
        params={"email": f"owner@{shop.tenant.slug}.example", "name": shop.tenant.name}
    )
    params: SubscriptionCreateParams = {
        "customer": customer.id,
        "items": [
            {"price": prices[services.TABLETS].stripe_price_id, "quantity": 1},
            {"price": prices[services.SIGNUPS].stripe_price_id},
        ],
        "trial_settings": {"end_behavior": {"missing_payment_method": "pause"}},
    }
    if shop.number == PAUSES:
        params["trial_period_days"] = 14
    else:
        billing.fake.set_card(customer.id, "succeeds")
        if shop.number == DECLINED:
            params["trial_period_days"] = 7
    subscription = client.v1.subscriptions.create(params=params)
    item = subscription["items"].data[0]
    shop.customer_id, shop.subscription_id = customer.id, subscription.id
    shop.period = (
        datetime.fromtimestamp(item.current_period_start, tz=UTC),
        datetime.fromtimestamp(item.current_period_end, tz=UTC),
    )
    account = BillingAccount.objects.create(
        tenant=shop.tenant, stripe_customer_id=customer.id, stripe_subscription_id=subscription.id
    )
    shop.account_id = services.account_sync(account=account).pk


def tablet_pair(shop: Shop) -> Device:
    with tenant_context(shop.tenant):
        _, code = signup_services.pairing_code_create(
            actor=None, location=shop.kiosk.location, device_name="Another till"
        )
        device, _ = signup_services.device_pair(code=code)
    shop.extra_tablets.append(device)
    return device


@pytest.fixture
def month(billing: Billing, premises: list[tuple[Tenant, Kiosk]]) -> Iterator[Month]:
    shops = [Shop(number, tenant, kiosk) for number, (tenant, kiosk) in enumerate(premises)]
    with time_machine.travel(START + timedelta(seconds=5), tick=True) as traveller:
        month = Month(billing, traveller, shops, random.Random(2040))
        for shop in month.shops:
            if shop.number not in HALF_PAST:
                subscribe(billing, shop)
        month.at(START + timedelta(minutes=30))
        for number in sorted(HALF_PAST):
            subscribe(billing, month.shops[number])
        month.deliver()
        yield month


def day_events(month: Month, day: int) -> None:
    shops, client, fake = month.shops, month.billing.client, month.billing.fake
    if day == 5:
        for _ in range(2):
            tablet_pair(shops[SEATS])
        assert services.seats_sync(account=shops[SEATS].account())
    elif day == 6:
        tablet_pair(shops[SWEPT])  # its message is lost: no seats_sync
    elif day == 7:
        fake.set_card(shops[DECLINED].customer_id, "declines")
    elif day == 8:
        # The trial ended last midnight and its first invoice was declined an hour later.
        assert month.status(DECLINED) == (SubscriptionStatus.PAST_DUE, TenantAccess.WARNED)
        assert month.status(SWEPT)[0] == SubscriptionStatus.ACTIVE
        assert shops[SWEPT].account().seats_billed == 2  # the sweep caught the lost message
    elif day == 9:
        fake.set_card(shops[DECLINED].customer_id, "succeeds")
    elif day == 11:
        # Retried three days after the decline, with the card that works now.
        assert month.status(DECLINED) == (SubscriptionStatus.ACTIVE, TenantAccess.FULL)
    elif day == 12:
        with tenant_context(shops[SEATS].tenant):
            signup_services.device_revoke(actor=None, device=shops[SEATS].extra_tablets[0])
        assert services.seats_sync(account=shops[SEATS].account())
    elif day == 15:
        assert month.status(PAUSES) == (SubscriptionStatus.PAUSED, TenantAccess.SUSPENDED)
    elif day == 20:
        client.v1.subscriptions.cancel(shops[CANCELS_NOW].subscription_id)
        client.v1.subscriptions.update(
            shops[CANCELS_AT_END].subscription_id, params={"cancel_at_period_end": True}
        )
        month.deliver()
        assert month.status(CANCELS_NOW) == (SubscriptionStatus.CANCELED, TenantAccess.SUSPENDED)
        assert month.status(CANCELS_AT_END) == (SubscriptionStatus.ACTIVE, TenantAccess.FULL)
    elif day == 31:
        # Stripe loses one of the retailer's meter events: the close must notice and correct.
        with fake.store.lock:
            lost = next(
                event
                for event in fake.store.meter_events
                if event["payload"]["stripe_customer_id"] == shops[LOST].customer_id
            )
            fake.store.meter_events.remove(lost)


def month_end(month: Month) -> datetime:
    """From 23:00 on the 31st to 02:00 on the 1st, as beat runs it; returns the last run."""
    moment = datetime(2040, 1, 31, 23, 0, tzinfo=UTC)
    signing = [
        (datetime(2040, 1, 31, 23, 31, tzinfo=UTC), SIGNING_UP - {CANCELS_AT_END}),
        (datetime(2040, 2, 1, 0, 2, tzinfo=UTC), SIGNING_UP),
        (datetime(2040, 2, 1, 0, 41, tzinfo=UTC), SIGNING_UP),
    ]
    while moment < datetime(2040, 2, 1, 2, 0, tzinfo=UTC):
        moment += timedelta(minutes=5)
        while signing and signing[0][0] <= moment:
            when, shops = signing.pop(0)
            month.at(when)
            month.sign_ups(shops, most=2)
        month.at(moment)
        if moment.minute == 10:
            month.hourly()
        month.close()
    return moment


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def period_hours(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The hours whose usage a period bills: those that end in it (see billing.services.usage)."""
    return hour_of(start), hour_of(end)


def expected_usage(shop: Shop, start: datetime, end: datetime) -> int:
    first, last = period_hours(start, end)
    return sum(first <= hour_of(moment) < last for moment in shop.received)


def invoiced_usage(month: Month, shop: Shop, start: datetime) -> int:
    """The sign-ups on Stripe's invoice for the period that began at ``start``."""
    client = month.billing.client
    signups = CatalogPrice.objects.get(lookup_key=services.SIGNUPS).stripe_price_id
    invoices = client.v1.invoices.list(params={"customer": shop.customer_id, "limit": 100}).data
    invoice = next(
        i
        for i in invoices
        if i.billing_reason == "subscription_cycle" and i.period_start == int(start.timestamp())
    )
    assert invoice.status == "paid"
    lines = [
        line
        for line in invoice.lines.data
        if line.pricing is not None
        and line.pricing.price_details is not None
        and line.pricing.price_details.price == signups
    ]
    assert len(lines) == 1
    return int(lines[0].quantity or 0)


def stripe_summary(month: Month, shop: Shop, close: PeriodClose) -> int:
    meter = CatalogPrice.objects.get(lookup_key=services.SIGNUPS).stripe_meter_id
    summaries = month.billing.client.v1.billing.meters.event_summaries.list(
        meter,
        params={
            "customer": shop.customer_id,
            "start_time": int(close.period_start.replace(second=0).timestamp()),
            "end_time": int(close.period_end.replace(second=0).timestamp()),
        },
    )
    return int(sum(summary.aggregated_value for summary in summaries.data))


def ledger() -> dict[str, object]:
    return {
        "usage": sorted(UsageReport.objects.values_list("identifier", "signups", "sent_at")),
        "closes": sorted(
            PeriodClose.objects.values_list(
                "pk", "state", "ours", "stripes", "attempts", "adjustment_identifier"
            )
        ),
        "accounts": sorted(
            BillingAccount.objects.values_list(
                "pk", "status", "seats_billed", "seats_change", "synced_at", "usage_counted_until"
            )
        ),
        "invoices": InvoiceRecord.objects.count(),
        "events": StripeEvent.objects.count(),
    }


def test_a_month_of_fifty_retailers_closes_exactly_and_once(month: Month) -> None:
    shops = month.shops
    for day in range(31):
        date = START + timedelta(days=day)
        month.at(date + timedelta(hours=10, minutes=20))
        month.sign_ups(SIGNING_UP, most=2)
        month.at(date + timedelta(hours=12, minutes=10))
        month.hourly()
        month.close()
        month.at(date + timedelta(hours=12, minutes=30))
        day_events(month, day + 1)
        month.at(date + timedelta(hours=16, minutes=40))
        month.sign_ups(SIGNING_UP, most=2)
    last = month_end(month)

    # Every account is where its subscription is, with the access that follows.
    expected = {
        PAUSES: (SubscriptionStatus.PAUSED, TenantAccess.SUSPENDED),
        DECLINED: (SubscriptionStatus.ACTIVE, TenantAccess.FULL),
        CANCELS_NOW: (SubscriptionStatus.CANCELED, TenantAccess.SUSPENDED),
        CANCELS_AT_END: (SubscriptionStatus.CANCELED, TenantAccess.SUSPENDED),
    }
    for shop in shops:
        account = shop.account()
        subscription = month.billing.client.v1.subscriptions.retrieve(shop.subscription_id)
        status = (account.status, account.tenant.access)
        assert status == expected.get(shop.number, (SubscriptionStatus.ACTIVE, TenantAccess.FULL))
        assert account.status == subscription.status
        item = next(i for i in subscription["items"].data if i.price.lookup_key == services.TABLETS)
        assert account.seats_billed == item.quantity
        assert account.current_period_start == datetime.fromtimestamp(
            item.current_period_start, tz=UTC
        )
        if account.status != SubscriptionStatus.CANCELED:
            with tenant_context(shop.tenant):
                tablets = Device.objects.filter(revoked_at__isnull=True).count()
            assert account.seats_billed == tablets
    assert shops[SEATS].account().seats_billed == 2
    assert shops[SWEPT].account().seats_billed == 2

    # One close per period that ended, reconciled exactly, and what Stripe invoiced.
    closes = {close.account_id: close for close in PeriodClose.objects.all()}
    assert len(closes) == PeriodClose.objects.count()
    assert set(closes) == {shops[n].account_id for n in MONTHLY | {DECLINED}}
    for shop in shops:
        close = closes.get(shop.account_id)
        if close is None:
            continue
        assert (close.period_start, close.period_end) == shop.period
        ours = expected_usage(shop, *shop.period)
        assert (close.ours, close.stripes) == (ours, ours), shop.number
        assert close.state == (
            CloseState.ADJUSTED if shop.number == LOST else CloseState.RECONCILED
        )
        assert stripe_summary(month, shop, close) == ours
        total = UsageReport.objects.filter(
            account_id=shop.account_id,
            hour__gte=period_hours(*shop.period)[0],
            hour__lt=period_hours(*shop.period)[1],
        ).aggregate(total=Sum("signups"))["total"]
        assert (total or 0) == ours
        if shop.number in MONTHLY:
            assert invoiced_usage(month, shop, shop.period[0]) == ours, shop.number
    assert sum(close.ours for close in closes.values()) > 500
    # Sign-ups after a period's end (00:02 and 00:40 on the 1st) wait for February's.
    assert not UsageReport.objects.filter(sent_at__isnull=True).exists()

    # Running every job again, at the same moment, sends nothing and writes nothing.
    requests = httpx.get(f"{month.billing.fake.url}/_fake/requests").json()["data"]
    before = ledger()
    assert services.periods_close(now=last) == {}
    assert services.usage_count(now=last) == 0
    assert services.usage_send(now=last) == 0
    assert services.seats_sync_all() == 0
    assert httpx.get(f"{month.billing.fake.url}/_fake/requests").json()["data"] == requests
    assert ledger() == before
