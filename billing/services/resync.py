"""The safety net under webhooks: accounts not synced for a while are fetched from Stripe again.

Stripe gives up on an endpoint after three days of failures, and an event can be lost on our
side before it is stored (a deploy, an outage of the public host). A retailer whose events were
missed would keep the status, period, seats and pay link it had then: full access to a
cancelled subscription, or a suspension for an invoice paid since. So every hour the accounts
whose copy is older than ``BILLING_RESYNC_AFTER_HOURS`` are fetched again, oldest first, with
the same rule as a webhook (``account_sync``: written unless a later fetch was written first),
and so are the invoices we still hold as unpaid drafts or open.

The run is paced under ``STRIPE_MAX_REQUESTS_PER_SECOND`` and stops at Stripe's first rate
limit; what is left is the oldest again at the next run.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from stripe import RateLimitError, StripeError

from ..models import BillingAccount, SubscriptionStatus
from .accounts import account_sync
from .client import Pace
from .invoices import invoices_unsettled_sync

logger = logging.getLogger(__name__)

#: Accounts fetched per run at most: 2,000 at 100 requests a second is 20 s, well inside the
#: task's time limit, and an hourly run covers 48,000 accounts a day.
RESYNC_BATCH = 2000
#: A subscription in these states never changes again: re-reading it would be wasted requests.
FINAL = (SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED)


def accounts_due(*, now: datetime, limit: int = RESYNC_BATCH) -> list[BillingAccount]:
    """The accounts whose copy is older than the setting (or never fetched), oldest first."""
    cutoff = now - timedelta(hours=settings.BILLING_RESYNC_AFTER_HOURS)
    return list(
        BillingAccount.objects.filter(Q(synced_at__isnull=True) | Q(synced_at__lt=cutoff))
        .exclude(status__in=FINAL)
        .filter(tenant__ready=True)
        .select_related("tenant")
        .order_by(F("synced_at").asc(nulls_first=True), "pk")[:limit]
    )


def accounts_resync(*, now: datetime | None = None, limit: int = RESYNC_BATCH) -> dict[str, int]:
    """Fetches the due accounts again; returns how many were synced, failed, and whether the
    run stopped on Stripe's rate limit."""
    now = now or timezone.now()
    pace = Pace(float(settings.STRIPE_MAX_REQUESTS_PER_SECOND))
    outcome = {"synced": 0, "failed": 0, "invoices": 0, "rate_limited": 0}
    for account in accounts_due(now=now, limit=limit):
        pace.wait()
        try:
            account_sync(account=account)
            outcome["invoices"] += invoices_unsettled_sync(account=account, pace=pace)
        except RateLimitError:
            # Stripe asks us to slow down: the rest keeps its old copy for another hour rather
            # than taking requests from the jobs that bill (usage, month end).
            logger.warning("stripe rate limit: the remaining accounts wait for the next run")
            outcome["rate_limited"] = 1
            break
        except StripeError:
            # Left as it was: still the oldest, so the next run tries it first.
            logger.exception("account not re-synced", extra={"account": account.pk})
            outcome["failed"] += 1
            continue
        outcome["synced"] += 1
    return outcome
