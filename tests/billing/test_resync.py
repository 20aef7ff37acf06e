"""The hourly re-sync: accounts whose webhooks were missed end in Stripe's state anyway, paced,
stopping at Stripe's rate limit, never writing older news over newer."""

import time
from datetime import timedelta

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone
from pytest_django import Settings
from stripe import Subscription

from billing import services, tasks
from billing.models import BillingAccount, SubscriptionStatus
from billing.services import accounts as accounts_module
from billing.services.resync import accounts_due
from customerinfo.celery import app
from tenants.models import Tenant, TenantAccess
from tenants.services import tenant_create

from .conftest import Billing
from .subscribers import subscribe

pytestmark = pytest.mark.django_db

HOURS = 24


def _age(account: BillingAccount, hours: float) -> None:
    """The account was last synced ``hours`` ago."""
    synced = timezone.now() - timedelta(hours=hours)
    BillingAccount.objects.filter(pk=account.pk).update(synced_at=synced)


def _shop(slug: str) -> Tenant:
    return tenant_create(
        name=slug.title(),
        slug=slug,
        owner_email=f"{slug}@{slug}.example",
        owner_password="a-long-password",
        provision_now=True,
    )


@pytest.fixture
def resync_after(settings: Settings) -> int:
    settings.BILLING_RESYNC_AFTER_HOURS = HOURS
    return HOURS


def test_a_cancellation_whose_webhooks_were_lost_suspends_at_the_next_run(
    billing: Billing, alice_tenant: Tenant, charlie_tenant: Tenant, resync_after: int
) -> None:
    stale = subscribe(billing, alice_tenant)
    fresh = subscribe(billing, charlie_tenant)
    billing.client.v1.subscriptions.cancel(stale.stripe_subscription_id)
    billing.client.v1.subscriptions.cancel(fresh.stripe_subscription_id)
    billing.webhooks()  # every event lost: our copies say trialing
    _age(stale, resync_after + 1)
    _age(fresh, resync_after - 1)

    before = len(billing.fake.requests)
    outcome = services.accounts_resync()

    assert outcome == {"synced": 1, "failed": 0, "invoices": 0, "rate_limited": 0}
    # Only the stale account was fetched: one request, the subscription with what it needs.
    assert [r.path for r in billing.fake.requests[before:]] == [
        f"/v1/subscriptions/{stale.stripe_subscription_id}"
    ]
    stale.refresh_from_db()
    assert stale.status == SubscriptionStatus.CANCELED
    assert Tenant.objects.get(pk=alice_tenant.pk).access == TenantAccess.SUSPENDED
    assert stale.synced_at is not None
    assert stale.synced_at > timezone.now() - timedelta(minutes=1)
    fresh.refresh_from_db()
    assert fresh.status == SubscriptionStatus.TRIALING  # its turn comes in an hour
    # A cancelled subscription never changes again: it is not fetched any more.
    _age(stale, resync_after * 10)
    assert stale not in accounts_due(now=timezone.now())


def test_never_synced_accounts_go_first_then_the_oldest(
    billing: Billing, alice_tenant: Tenant, charlie_tenant: Tenant, resync_after: int
) -> None:
    old = subscribe(billing, alice_tenant)
    never = subscribe(billing, charlie_tenant)
    older = subscribe(billing, _shop("dora"))
    _age(old, resync_after + 2)
    _age(older, resync_after + 5)
    BillingAccount.objects.filter(pk=never.pk).update(synced_at=None)
    due = accounts_due(now=timezone.now(), limit=2)
    assert [account.pk for account in due] == [never.pk, older.pk]


def test_a_rate_limit_stops_the_run_and_the_next_run_does_the_rest(
    billing: Billing, alice_tenant: Tenant, charlie_tenant: Tenant, resync_after: int
) -> None:
    accounts = [subscribe(billing, alice_tenant), subscribe(billing, charlie_tenant)]
    for account in accounts:
        _age(account, resync_after + 1)
    billing.fake.force_429(1)  # Stripe: slow down
    before = len(billing.fake.requests)
    assert services.accounts_resync()["rate_limited"] == 1
    assert len(billing.fake.requests) == before + 1  # it stopped, and did not hammer on
    assert accounts_due(now=timezone.now()) == accounts  # both still due, none skipped
    assert services.accounts_resync()["synced"] == 2
    assert accounts_due(now=timezone.now()) == []


def test_the_run_is_paced_under_the_request_rate_setting(
    billing: Billing,
    alice_tenant: Tenant,
    charlie_tenant: Tenant,
    resync_after: int,
    settings: Settings,
) -> None:
    accounts = [subscribe(billing, alice_tenant), subscribe(billing, charlie_tenant)]
    accounts.append(subscribe(billing, _shop("dora")))
    for account in accounts:
        _age(account, resync_after + 1)
    settings.STRIPE_MAX_REQUESTS_PER_SECOND = 10
    started = time.monotonic()
    assert services.accounts_resync()["synced"] == 3
    # The first request goes at once, each next one a tenth of a second after the one before.
    assert time.monotonic() - started >= 0.2


def test_a_fetch_older_than_the_stored_copy_is_not_written(
    billing: Billing, alice_tenant: Tenant, resync_after: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webhook rule holds for the re-sync: while its fetch is on the way, the subscription
    is cancelled and a webhook's sync (started later) writes first; the re-sync's older
    snapshot is then not written over it."""
    account = subscribe(billing, alice_tenant)
    _age(account, resync_after + 1)
    fetch = accounts_module._subscription_fetch
    overtaken: list[str] = []

    def fetch_then_overtaken(row: BillingAccount) -> Subscription | None:
        snapshot = fetch(row)
        if not overtaken:
            overtaken.append(row.stripe_subscription_id)
            billing.client.v1.subscriptions.cancel(row.stripe_subscription_id)
            services.account_sync(account=row)  # the webhook's sync, begun after ours
        return snapshot

    monkeypatch.setattr(accounts_module, "_subscription_fetch", fetch_then_overtaken)
    assert services.accounts_resync()["synced"] == 1
    assert overtaken == [account.stripe_subscription_id]
    account.refresh_from_db()
    assert account.status == SubscriptionStatus.CANCELED  # not the trialing snapshot
    assert Tenant.objects.get(pk=alice_tenant.pk).access == TenantAccess.SUSPENDED


def test_beat_runs_the_resync_every_hour(billing: Billing, alice_tenant: Tenant) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["billing-accounts-resync"]
    assert entry["task"] == "billing.tasks.accounts_resync"
    assert entry["task"] in app.tasks
    assert entry["schedule"] == crontab(minute=40)  # away from the usage job at ten past
    account = subscribe(billing, alice_tenant)
    BillingAccount.objects.filter(pk=account.pk).update(synced_at=None)
    assert tasks.accounts_resync()["synced"] == 1
