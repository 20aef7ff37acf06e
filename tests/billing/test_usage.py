"""Sign-ups to Stripe's meter, exactly once; the month-end close reconciles, corrects, alerts."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_tenants.utils import tenant_context
from pytest_django import Settings

from billing import services
from billing.models import (
    SIGNUPS,
    BillingAccount,
    CatalogPrice,
    CloseState,
    PeriodClose,
    SubscriptionStatus,
    UsageReport,
)
from signup.models import Submission
from tenants.models import Tenant
from tests.billing.conftest import Billing
from tests.crm_sync.factories import sign_up
from tests.signup.factories import Kiosk

pytestmark = pytest.mark.django_db


def _account(billing: Billing, tenant: Tenant, *, since: datetime) -> BillingAccount:
    customer = billing.client.v1.customers.create(params={"email": f"owner@{tenant.slug}.test"})
    return BillingAccount.objects.create(
        tenant=tenant,
        stripe_customer_id=customer.id,
        status=SubscriptionStatus.ACTIVE,
        usage_counted_until=since,
    )


def _received(kiosk: Kiosk, tenant: Tenant, at: datetime, count: int) -> None:
    with tenant_context(tenant):
        for number in range(count):
            Submission.objects.filter(pk=sign_up(kiosk, email=f"s{number}@x.test")).update(
                received_at=at
            )


def _summary(billing: Billing, account: BillingAccount, start: datetime, end: datetime) -> int:
    meter = CatalogPrice.objects.get(lookup_key=SIGNUPS).stripe_meter_id
    summaries = billing.client.v1.billing.meters.event_summaries.list(
        meter,
        params={
            "customer": account.stripe_customer_id,
            "start_time": int(start.timestamp()),
            "end_time": int(end.timestamp()),
        },
    )
    return int(sum(summary.aggregated_value for summary in summaries.data))


def test_each_hour_is_counted_once_and_sent_once(
    billing: Billing, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    now = timezone.now().replace(minute=20, second=0, microsecond=0)
    start = now - timedelta(hours=5)
    account = _account(billing, alice_tenant, since=start.replace(minute=0))
    _received(kiosk, alice_tenant, now - timedelta(hours=3), 4)
    _received(kiosk, alice_tenant, now - timedelta(hours=2), 2)
    _received(kiosk, alice_tenant, now, 7)  # this hour is not over: not counted yet
    assert services.usage_count(now=now) == 2
    assert services.usage_count(now=now) == 0  # the watermark moved
    assert services.usage_send(now=now) == 2
    assert services.usage_send(now=now) == 0
    assert sorted(UsageReport.objects.values_list("signups", flat=True)) == [2, 4]
    assert _summary(billing, account, start.replace(minute=0), now + timedelta(hours=1)) == 6


def test_a_report_stripe_has_already_is_recorded_as_sent(
    billing: Billing, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    """A run that died after sending, before recording: the next run sends the same identifier;
    Stripe refuses a repeat within a day, and the ledger counts it as sent, not twice."""
    now = timezone.now().replace(minute=20, second=0, microsecond=0)
    account = _account(billing, alice_tenant, since=(now - timedelta(hours=2)).replace(minute=0))
    _received(kiosk, alice_tenant, now - timedelta(hours=1), 3)
    services.usage_count(now=now)
    services.usage_send(now=now)
    UsageReport.objects.update(sent_at=None)  # the record of sending was lost
    services.stripe_client_reset()  # a new process: no idempotency replay from the same client
    assert services.usage_send(now=now) == 1
    start = (now - timedelta(hours=2)).replace(minute=0)
    assert _summary(billing, account, start, now + timedelta(hours=1)) == 3


def test_the_close_reconciles_and_a_rerun_changes_nothing(
    billing: Billing, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    period_end = (now - timedelta(minutes=30)).replace(minute=0)
    period_start = period_end - timedelta(days=1)
    account = _account(billing, alice_tenant, since=period_start)
    _received(kiosk, alice_tenant, period_start + timedelta(hours=3), 5)
    close = PeriodClose.objects.create(
        account=account, period_start=period_start, period_end=period_end
    )
    assert services.periods_close(now=now) == {CloseState.RECONCILED: 1}
    close.refresh_from_db()
    assert (close.ours, close.stripes, close.state) == (5, 5, CloseState.RECONCILED)
    requests = len(billing.fake.requests)
    assert requests > 0
    assert services.periods_close(now=now) == {}
    assert len(billing.fake.requests) == requests  # not one more call to Stripe


def test_stripe_short_gets_one_correction_and_over_alerts_the_operator(
    billing: Billing, kiosk: Kiosk, alice_tenant: Tenant, settings: Settings
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    period_end = (now - timedelta(minutes=30)).replace(minute=0)
    period_start = period_end - timedelta(days=1)
    account = _account(billing, alice_tenant, since=period_end)
    # Our ledger says 9 sign-ups that Stripe never got (sent long ago, lost on its side).
    UsageReport.objects.create(
        account=account,
        hour=period_start + timedelta(hours=1),
        signups=9,
        identifier="lost-on-stripes-side",
        sent_at=now - timedelta(hours=2),
    )
    close = PeriodClose.objects.create(
        account=account, period_start=period_start, period_end=period_end
    )
    services.periods_close(now=now)
    close.refresh_from_db()
    assert close.adjustment_identifier
    services.periods_close(now=now)
    close.refresh_from_db()
    assert (close.state, close.ours, close.stripes) == (CloseState.ADJUSTED, 9, 9)

    # Stripe counting more than us cannot be taken back from here: the operator is told.
    settings.OPERATOR_EMAILS = ["ops@customerinfo.test"]
    extra = PeriodClose.objects.create(
        account=account, period_start=period_end, period_end=period_end + timedelta(minutes=1)
    )
    meter = CatalogPrice.objects.get(lookup_key=SIGNUPS)
    billing.client.v1.billing.meter_events.create(
        params={
            "event_name": meter.meter_event_name,
            "payload": {"stripe_customer_id": account.stripe_customer_id, "value": "2"},
            "timestamp": int(period_end.timestamp()),
        }
    )
    services.periods_close(now=now)
    extra.refresh_from_db()
    assert extra.state == CloseState.MISMATCH
    assert len(mail.outbox) == 1
    assert "alice" in mail.outbox[0].body


def test_a_rate_limit_stops_the_run_and_the_next_run_sends_the_rest(
    billing: Billing, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    now = timezone.now().replace(minute=20, second=0, microsecond=0)
    _account(billing, alice_tenant, since=(now - timedelta(hours=4)).replace(minute=0))
    for hours in (3, 2, 1):
        _received(kiosk, alice_tenant, now - timedelta(hours=hours), 1)
    assert services.usage_count(now=now) == 3
    billing.fake.force_429(1)  # Stripe: slow down
    before = len(billing.fake.requests)
    assert services.usage_send(now=now) == 0
    assert len(billing.fake.requests) == before + 1  # it stopped, and did not hammer on
    assert services.usage_send(now=now) == 3
