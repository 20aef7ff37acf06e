"""Month end with no one watching: usage flushed, then checked against Stripe's meter, per
retailer and period.

Stripe drafts the invoice when a period ends and finalises it about an hour later; usage
reported for the period before then is still billed. Beat runs ``periods_close`` every few
minutes, so each close lands inside that hour:

1. count and send every hour of the period we have not sent (``usage``);
2. read Stripe's meter event summary for the period and compare it with our ledger;
3. equal: reconciled. Stripe short (an event lost on its side): send the difference as one
   correction event, under an identifier that names the close, and check again next run.
   Stripe over (it counts sign-ups we do not have): that cannot be taken back from here, so the
   close is marked and the operator is told.

A close that reconciled is never touched again; re-running the job does nothing for it.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Sum
from django.utils import timezone
from stripe import StripeError

from ..models import CatalogPrice, CloseState, PeriodClose, UsageReport
from .catalog import SIGNUPS
from .client import Pace, stripe_client
from .usage import usage_count, usage_send

logger = logging.getLogger(__name__)

#: Stripe's summaries lag the events a little: a shortfall is only corrected once the newest
#: event of the period was sent at least this long ago.
SETTLE = timedelta(minutes=10)


def _minute(moment: datetime) -> int:
    """Summaries take minute-aligned bounds."""
    return int(moment.astimezone(UTC).replace(second=0, microsecond=0).timestamp())


def periods_close(*, now: datetime | None = None) -> dict[str, int]:
    """Works through every open close; returns how many ended in each state."""
    now = now or timezone.now()
    pending = list(
        PeriodClose.objects.filter(
            state__in=[CloseState.OPEN, CloseState.FAILED], period_end__lte=now
        ).select_related("account__tenant")
    )
    outcome: dict[str, int] = {}
    if not pending:
        return outcome
    before = {close.pk: close.state for close in pending}
    usage_count(now=now)
    usage_send(now=now)
    price = CatalogPrice.objects.get(lookup_key=SIGNUPS)
    pace = Pace(float(settings.STRIPE_MAX_REQUESTS_PER_SECOND))
    for close in pending:
        pace.wait()
        try:
            state = period_close(close=close, price=price, now=now)
        except StripeError as error:
            state = close.state = CloseState.FAILED
            close.error = str(error)[:2000]
            close.save(update_fields=["state", "attempts", "error"])
            logger.exception("period close failed", extra={"close": close.pk})
        outcome[state] = outcome.get(state, 0) + 1
    # Told once: a close that failed before and fails again (Stripe down for an hour) is not
    # mailed every five minutes; one that newly fails or disagrees is.
    failed = [
        close
        for close in pending
        if close.state in (CloseState.FAILED, CloseState.MISMATCH)
        and before[close.pk] != close.state
    ]
    if failed:
        _operator_alert(failed)
    return outcome


def period_close(*, close: PeriodClose, price: CatalogPrice, now: datetime) -> str:
    close.attempts += 1
    ours = _ours(close)
    summaries = stripe_client().v1.billing.meters.event_summaries.list(
        price.stripe_meter_id,
        params={
            "customer": close.account.stripe_customer_id,
            "start_time": _minute(close.period_start),
            "end_time": _minute(close.period_end),
        },
    )
    stripes = int(sum(summary.aggregated_value for summary in summaries.auto_paging_iter()))
    close.ours, close.stripes = ours, stripes
    if stripes == ours:
        close.state = CloseState.ADJUSTED if close.adjustment_identifier else CloseState.RECONCILED
        close.closed_at = now
        close.error = ""
    elif stripes > ours:
        close.state = CloseState.MISMATCH
        close.error = f"Stripe counts {stripes} sign-ups, we count {ours}."
    elif _settled(close, now) and not close.adjustment_identifier:
        _correct(close, price=price, missing=ours - stripes)
        close.state = CloseState.OPEN  # checked again on the next run
    close.save()
    return close.state


def _ours(close: PeriodClose) -> int:
    total = UsageReport.objects.filter(
        account=close.account, hour__gte=close.period_start, hour__lt=close.period_end
    ).aggregate(total=Sum("signups"))["total"]
    return int(total or 0)


def _settled(close: PeriodClose, now: datetime) -> bool:
    newest = (
        UsageReport.objects.filter(account=close.account, hour__lt=close.period_end)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    return newest is None or newest <= now - SETTLE


def _correct(close: PeriodClose, *, price: CatalogPrice, missing: int) -> None:
    identifier = f"correction-{close.account.tenant_id}-{close.period_start:%Y%m%d%H%M}"
    moment = max(close.period_end - timedelta(seconds=1), close.period_start)
    stripe_client().v1.billing.meter_events.create(
        params={
            "event_name": price.meter_event_name,
            "identifier": identifier,
            "timestamp": int(moment.timestamp()),
            "payload": {
                "stripe_customer_id": close.account.stripe_customer_id,
                "value": str(missing),
            },
        },
        options={"idempotency_key": identifier},
    )
    close.adjustment_identifier = identifier
    logger.warning(
        "meter short of our count; correction sent",
        extra={"close": close.pk, "missing": missing},
    )


def _operator_alert(closes: list[PeriodClose]) -> None:
    recipients = settings.BILLING_OPERATOR_EMAILS
    lines = [
        f"- {close.account.tenant.slug}, period from {close.period_start:%Y-%m-%d}: "
        f"{close.get_state_display()}. {close.error}"
        for close in closes
    ]
    logger.error("month-end closes need a person", extra={"closes": [c.pk for c in closes]})
    if recipients:
        send_mail(
            "CustomerInfo billing: month-end closes need attention",
            "These closes did not reconcile:\n\n" + "\n".join(lines),
            None,
            recipients,
        )
