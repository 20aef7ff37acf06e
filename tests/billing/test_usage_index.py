"""The hourly job finds its few unsent hours through the partial index, not by reading the whole
ledger of hours sent since the first day."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from billing.models import BillingAccount, SubscriptionStatus, UsageReport
from billing.selectors import usage_unsent
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

SENT = 20_000
UNSENT = 3


def test_the_unsent_hours_are_read_through_the_partial_index(alice_tenant: Tenant) -> None:
    account = BillingAccount.objects.create(
        tenant=alice_tenant, stripe_customer_id="cus_index", status=SubscriptionStatus.ACTIVE
    )
    first = datetime(2038, 1, 1, tzinfo=UTC)
    now = timezone.now()
    UsageReport.objects.bulk_create(
        UsageReport(
            account=account,
            hour=first + timedelta(hours=number),
            signups=1,
            identifier=f"signups-index-{number}",
            sent_at=None if number >= SENT else now,
        )
        for number in range(SENT + UNSENT)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {UsageReport._meta.db_table}")
    # The job's own query, with its limit.
    query = usage_unsent(limit=50_000)
    plan = query.explain()
    assert "billing_usage_unsent_idx" in plan, plan
    assert [row.identifier for row in query] == [
        f"signups-index-{number}" for number in range(SENT, SENT + UNSENT)
    ]


def test_the_index_is_partial_on_what_the_job_asks() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'billing_usage_unsent_idx'"
        )
        (definition,) = cursor.fetchone()
    assert "(hour, id)" in definition
    assert definition.endswith("WHERE (sent_at IS NULL)")
