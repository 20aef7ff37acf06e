"""What /metrics says of the month-end close: the close job's own count, kept in Redis."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.metrics import closes_summary_record
from billing.models import BillingAccount, CloseState, PeriodClose, SubscriptionStatus
from billing.tasks import periods_close
from tenants.models import Tenant
from tests.customerinfo.metrics_scrape import of_family, scrape

CLOSES = "customerinfo_billing_closes"
SUCCESS = "customerinfo_billing_close_last_success_timestamp_seconds"
CHECKED = "customerinfo_billing_close_checked_timestamp_seconds"


def _closes(tenant: Tenant, *states: str) -> list[PeriodClose]:
    account = BillingAccount.objects.create(
        tenant=tenant, stripe_customer_id=f"cus_{tenant.slug}", status=SubscriptionStatus.ACTIVE
    )
    start = timezone.now().replace(microsecond=0) - timedelta(days=400)
    made = []
    for index, state in enumerate(states):
        period_start = start + timedelta(days=31 * index)
        made.append(
            PeriodClose.objects.create(
                account=account,
                period_start=period_start,
                period_end=period_start + timedelta(days=31),
                state=state,
                closed_at=period_start + timedelta(days=31, minutes=20)
                if state == CloseState.RECONCILED
                else None,
            )
        )
    return made


def test_before_the_job_ever_ran_the_figures_say_never(db: None) -> None:
    samples = scrape()
    assert of_family(samples, CLOSES) == {(("state", "failed"),): 0, (("state", "mismatch"),): 0}
    assert samples[SUCCESS, ()] == 0
    assert samples[CHECKED, ()] == 0


def test_the_close_job_records_its_counts_for_the_scrape(alice_tenant: Tenant) -> None:
    # Nothing pending (reconciled and mismatch are never taken up again): no call to Stripe.
    _, newer, _ = _closes(
        alice_tenant, CloseState.RECONCILED, CloseState.RECONCILED, CloseState.MISMATCH
    )
    before = timezone.now().timestamp()
    assert periods_close() == {}
    samples = scrape()
    assert of_family(samples, CLOSES) == {(("state", "failed"),): 0, (("state", "mismatch"),): 1}
    assert newer.closed_at is not None
    assert samples[SUCCESS, ()] == newer.closed_at.timestamp()
    assert samples[CHECKED, ()] >= before


@pytest.mark.parametrize("failed", [1, 3])
def test_failed_closes_are_counted(charlie_tenant: Tenant, failed: int) -> None:
    _closes(charlie_tenant, *([CloseState.FAILED] * failed), CloseState.OPEN)
    summary = closes_summary_record(now=1_700_000_000.0)
    assert summary[CloseState.FAILED] == failed
    samples = scrape()
    assert of_family(samples, CLOSES)[(("state", "failed"),)] == failed
    assert samples[SUCCESS, ()] == 0
    assert samples[CHECKED, ()] == 1_700_000_000.0
