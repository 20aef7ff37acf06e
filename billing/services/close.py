"""Month end with no one watching: usage flushed, then checked against Stripe's meter, per
retailer and period.

Stripe drafts the invoice when a period ends and finalises it about an hour later; usage
reported for the period before then is still billed. A period's usage is its hours that end in
it (``usage.period_hours``), all countable five minutes after the top of the hour in which the
period ends (``usage.COUNT_MARGIN``): a close is taken up from then, and not before the period's
end. Beat runs ``periods_close`` every few minutes, so each close lands inside that hour:

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
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from stripe import RateLimitError, StripeError

from ..models import SIGNUPS, CatalogPrice, CloseState, PeriodClose, UsageReport
from ..selectors import ledger_totals
from .client import Pace, stripe_client
from .usage import counted_until, period_hours, usage_count, usage_send

logger = logging.getLogger(__name__)

#: Stripe's summaries lag the events a little: a shortfall is only corrected once the newest
#: event of the period was sent at least this long ago.
SETTLE = timedelta(minutes=10)
#: Closes written together, in one round trip. A run that dies loses at most these results,
#: which the next run reads from Stripe again (a correction is written as soon as it is sent).
WRITE_BATCH = 500
_WRITTEN = ["state", "ours", "stripes", "adjustment_identifier", "attempts", "error", "closed_at"]


def _minute(moment: datetime) -> int:
    """Summaries take minute-aligned bounds. Rounding down is exact for our events: an hour is
    reported at its last second (hh:59:59), which lies on the same side of a period's bound
    and of that bound rounded down to the minute."""
    return int(moment.astimezone(UTC).replace(second=0, microsecond=0).timestamp())


def periods_close(*, now: datetime | None = None) -> dict[str, int]:
    """Works through every open close; returns how many ended in each state."""
    now = now or timezone.now()
    pending = list(
        PeriodClose.objects.filter(
            state__in=[CloseState.OPEN, CloseState.FAILED],
            period_end__lte=now,
            # Not before the period's last hour can be counted (see the module's docstring).
            period_end__lt=counted_until(now) + timedelta(hours=1),
        ).select_related("account__tenant")
    )
    outcome: dict[str, int] = {}
    if not pending:
        return outcome
    before = {close.pk: close.state for close in pending}
    usage_count(now=now)
    usage_send(now=now)
    price = CatalogPrice.objects.get(lookup_key=SIGNUPS)
    ours = ledger_totals(close_ids=[close.pk for close in pending])
    pace = Pace(float(settings.STRIPE_MAX_REQUESTS_PER_SECOND))
    unwritten: list[PeriodClose] = []
    for close in pending:
        pace.wait()
        try:
            state = _close(close, price=price, now=now, ours=ours.get(close.pk, 0))
        except RateLimitError:
            # Stripe asks us to slow down: the closes not done yet wait for the next run, five
            # minutes on, still well inside the hour before invoices are finalised.
            logger.warning("stripe rate limit: the remaining closes wait for the next run")
            break
        except StripeError as error:
            state = close.state = CloseState.FAILED
            close.error = str(error)[:2000]
            logger.exception("period close failed", extra={"close": close.pk})
        outcome[state] = outcome.get(state, 0) + 1
        unwritten.append(close)
        # A correction just sent is written at once; the rest in batches.
        corrected = bool(close.adjustment_identifier) and state == CloseState.OPEN
        if corrected or len(unwritten) >= WRITE_BATCH:
            _write(unwritten)
            unwritten = []
    _write(unwritten)
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
    """One close on its own: read, compared, corrected if need be, and written."""
    state = _close(close, price=price, now=now, ours=_ours(close))
    _write([close])
    return state


def _close(close: PeriodClose, *, price: CatalogPrice, now: datetime, ours: int) -> str:
    """Compares ``ours`` with Stripe's summary and sets the close's outcome (not written)."""
    close.attempts += 1
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
    return close.state


def _write(closes: list[PeriodClose]) -> None:
    """One UPDATE per close, sent together (psycopg pipelines ``executemany``): a round trip
    for the batch, and none of ``bulk_update``'s CASE expressions to build."""
    if not closes:
        return
    table = connection.ops.quote_name(PeriodClose._meta.db_table)
    columns = ", ".join(f"{connection.ops.quote_name(name)} = %s" for name in _WRITTEN)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {columns} WHERE id = %s",  # noqa: S608 - names, quoted
            [[*(getattr(close, name) for name in _WRITTEN), close.pk] for close in closes],
        )


def _ours(close: PeriodClose) -> int:
    first, last = period_hours(close.period_start, close.period_end)
    total = UsageReport.objects.filter(
        account=close.account, hour__gte=first, hour__lt=last
    ).aggregate(total=Sum("signups"))["total"]
    return int(total or 0)


def _settled(close: PeriodClose, now: datetime) -> bool:
    _, last = period_hours(close.period_start, close.period_end)
    newest = (
        UsageReport.objects.filter(account=close.account, hour__lt=last)
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    return newest is None or newest <= now - SETTLE


def _correct(close: PeriodClose, *, price: CatalogPrice, missing: int) -> None:
    identifier = f"correction-{close.account.tenant_id}-{close.period_start:%Y%m%d%H%M}"
    # The last second before the period's end rounded down to the minute: inside the period
    # (so on its invoice) and inside the summary's minute-aligned bounds (so the next run sees
    # it); one second before the end itself is outside them whenever the end has seconds.
    moment = max(_minute(close.period_end) - 1, int(close.period_start.timestamp()))
    stripe_client().v1.billing.meter_events.create(
        params={
            "event_name": price.meter_event_name,
            "identifier": identifier,
            "timestamp": moment,
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
    recipients = settings.OPERATOR_EMAILS
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
