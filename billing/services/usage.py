"""Sign-ups to Stripe's meter: counted per retailer and hour, recorded, then sent exactly once.

Two steps, each safe to run again:

1. ``usage_count`` counts, for every billed retailer, the hours that ended (with a few minutes'
   margin, so a sign-up being written at the turn of the hour is in) since the last count, and
   records one ``UsageReport`` per hour that had sign-ups, moving the accounts' watermarks in the
   same transaction (one transaction per few hundred retailers). Counting is by the time a
   sign-up was *received*: a tablet that comes back online after a week reports its sign-ups
   into the period open when they arrive, which is the one period still open for usage (closed
   periods are invoiced and final).
2. ``usage_send`` sends every recorded hour not yet sent, as one meter event whose identifier
   and idempotency key name the retailer and the hour. Stripe remembers identifiers for about a
   day only; our ledger remembers for ever, so a re-run or a retried job never bills twice.

An hour is reported as of its last second (10:59:59 for the hour from 10:00), so it counts in
the billing period in which it *ends*: a period that ends at 10:37 has its hours up to the one
from 09:00 (``period_hours``), and the hour from 10:00 goes to the next period. So every hour of
a period can be counted by the period's end or five minutes past the top of its hour, whichever
is later (``COUNT_MARGIN``), well inside the hour Stripe waits before finalising the invoice;
and a meter summary with minute-aligned bounds counts exactly the hours ``period_hours`` names,
whatever the second the period ends at.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from stripe import InvalidRequestError, RateLimitError, StripeError

from ..models import SIGNUPS, BillingAccount, CatalogPrice, UsageReport
from ..selectors import SCHEMAS_PER_QUERY, billed_accounts, signups_by_hour, usage_unsent
from .client import Pace, stripe_client

logger = logging.getLogger(__name__)

#: An hour is counted this long after it ended: a sign-up received at 10:59:59.9 is committed by
#: then (its statement is a single autocommit INSERT).
COUNT_MARGIN = timedelta(minutes=5)
#: Stripe accepts meter events up to 35 days old; we keep a day's margin.
OLDEST_TIMESTAMP = timedelta(days=34)
LAST_SECOND = timedelta(hours=1) - timedelta(seconds=1)


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def identifier_for(account: BillingAccount, hour: datetime) -> str:
    return f"signups-{account.tenant_id}-{hour:%Y%m%d%H}"


def counted_until(now: datetime) -> datetime:
    """Every hour before this can be counted at ``now`` (it ended, with the margin)."""
    return hour_floor(now - COUNT_MARGIN)


def period_hours(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[first, last) hours that count in the billing period [start, end): those ending in it."""
    return hour_floor(start), hour_floor(end)


def meter_moment(hour: datetime, now: datetime) -> datetime:
    """The timestamp an hour is reported at: its last second, so that it counts in the period
    in which it ends. An hour older than Stripe's window (the job was down for over a month) is
    reported at the last second of the oldest hour Stripe accepts, into the period open then."""
    oldest = hour_floor(now - OLDEST_TIMESTAMP)
    return max(hour, oldest) + LAST_SECOND


def usage_count(*, now: datetime | None = None) -> int:
    """Counts every finished hour of every billed retailer; returns how many hours had sign-ups."""
    now = now or timezone.now()
    end = counted_until(now)
    accounts = [account for account in billed_accounts() if _start(account) < end]
    if not accounts:
        return 0
    start = min(_start(account) for account in accounts)
    counts = signups_by_hour(
        schemas=[account.tenant.schema_name for account in accounts], start=start, end=end
    )
    recorded = 0
    # The rows and the watermarks of a batch of accounts commit together: one transaction per
    # batch, not one per retailer.
    for offset in range(0, len(accounts), SCHEMAS_PER_QUERY):
        batch = accounts[offset : offset + SCHEMAS_PER_QUERY]
        rows = [
            UsageReport(
                account=account,
                hour=hour,
                signups=count,
                identifier=identifier_for(account, hour),
            )
            for account in batch
            for hour, count in sorted(counts.get(account.tenant.schema_name, {}).items())
            if hour >= _start(account)
        ]
        with transaction.atomic():
            UsageReport.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
            BillingAccount.objects.filter(pk__in=[account.pk for account in batch]).update(
                usage_counted_until=end
            )
        recorded += len(rows)
    return recorded


def _start(account: BillingAccount) -> datetime:
    """The first hour not counted yet: the watermark, or the hour the account began."""
    return account.usage_counted_until or hour_floor(account.created_at)


def usage_send(*, now: datetime | None = None, limit: int = 50_000) -> int:
    """Sends the recorded hours Stripe has not had yet; returns how many were sent."""
    now = now or timezone.now()
    price = CatalogPrice.objects.filter(lookup_key=SIGNUPS).first()
    if price is None:
        logger.warning("usage not sent: the catalog has no sign-up price (billing_sync_catalog)")
        return 0
    pace = Pace(_per_second())
    sent = 0
    for row in usage_unsent(limit=limit):
        pace.wait()
        try:
            _send(row, event_name=price.meter_event_name, now=now)
        except RateLimitError:
            # Stripe asks us to slow down: what is left is sent by the next run, under the same
            # identifiers, rather than hammering on.
            logger.warning("stripe rate limit: the remaining usage waits for the next run")
            break
        except StripeError:
            # Left unsent: the next run sends it, under the same identifier.
            logger.exception("meter event not sent", extra={"identifier": row.identifier})
            continue
        UsageReport.objects.filter(pk=row.pk).update(sent_at=timezone.now())
        sent += 1
    return sent


def _send(row: UsageReport, *, event_name: str, now: datetime) -> None:
    moment = meter_moment(row.hour, now)
    try:
        stripe_client().v1.billing.meter_events.create(
            params={
                "event_name": event_name,
                "identifier": row.identifier,
                "timestamp": int(moment.timestamp()),
                "payload": {
                    "stripe_customer_id": row.account.stripe_customer_id,
                    "value": str(row.signups),
                },
            },
            options={"idempotency_key": row.identifier},
        )
    except InvalidRequestError as error:
        if error.code != "resource_already_exists":
            raise
        # Stripe already has this identifier (a run that died after sending, before recording).


def _per_second() -> float:
    from django.conf import settings

    return float(settings.STRIPE_MAX_REQUESTS_PER_SECOND)
