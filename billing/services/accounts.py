"""Our copy of a retailer's subscription, refreshed from Stripe, and what access follows from it.

Webhook events arrive late, twice and out of order, and each carries a snapshot that may already
be stale. So an event is only a reason to look: ``account_sync`` fetches the subscription as it
is now and writes it, unless a fetch that started later has already been written. Any order of
any events then ends in the state Stripe has.
"""

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from stripe import Invoice, Price, StripeObject, Subscription

from tenants.models import Tenant, TenantAccess

from ..models import ACCESS_BY_STATUS, BillingAccount, PeriodClose, SubscriptionStatus
from .client import stripe_client, stripe_time
from .invoices import invoice_record, pay_link_refresh

logger = logging.getLogger(__name__)

#: Statuses a subscription can be found in when looking for the customer's current one.
_LIVE = {"trialing", "active", "past_due", "unpaid", "paused", "incomplete"}


#: Asked along with the subscription, so one request brings what the account shows: the
#: latest invoice (the pay link) and the tiers of its prices (the sign-ups included).
_EXPAND = ["latest_invoice", "items.data.price.tiers"]


def _subscription_fetch(account: BillingAccount) -> Subscription | None:
    client = stripe_client()
    if account.stripe_subscription_id:
        return client.v1.subscriptions.retrieve(
            account.stripe_subscription_id, params={"expand": _EXPAND}
        )
    # Stripe expands four levels at most: a list brings its prices' tiers one level too deep,
    # so ``_allowance`` fetches the price itself this once.
    subscriptions = client.v1.subscriptions.list(
        params={
            "customer": account.stripe_customer_id,
            "status": "all",
            "limit": 10,
            "expand": ["data.latest_invoice"],
        }
    ).data
    live = [subscription for subscription in subscriptions if subscription.status in _LIVE]
    return max(live or subscriptions, key=lambda s: s.created, default=None)


def _seats_item(subscription: Subscription) -> tuple[str, int, datetime | None, datetime | None]:
    """(item id, quantity, period start, period end) of the per-tablet item: the licensed one
    (the sign-ups' item is metered)."""
    for item in subscription["items"].data:
        recurring = item.price.recurring
        if recurring is None or recurring.usage_type != "metered":
            return (
                item.id,
                item.quantity or 0,
                stripe_time(item.current_period_start),
                stripe_time(item.current_period_end),
            )
    return "", 0, None, None


def included_signups(tiers: list[Any] | None) -> int | None:
    """The sign-ups a graduated price includes: its first tier's ``up_to`` when that tier is
    free. None for a price with no free first tier (or free without end): nothing to count
    against."""
    if not tiers:
        return None
    first = tiers[0].to_dict() if isinstance(tiers[0], StripeObject) else dict(tiers[0])
    free = not _amount(first, "unit_amount") and not _amount(first, "flat_amount")
    return int(first["up_to"]) if free and first.get("up_to") is not None else None


def _amount(tier: dict[str, Any], name: str) -> Decimal:
    """A tier's amount, exact (``…_decimal``, a string) when Stripe gives it."""
    exact = tier.get(f"{name}_decimal")
    value = exact if exact is not None else tier.get(name)
    return Decimal(str(value)) if value is not None else Decimal(0)


def _allowance(subscription: Subscription, known: BillingAccount) -> tuple[str, int | None]:
    """(sign-up price id, sign-ups it includes) of the subscription's metered item."""
    for item in subscription["items"].data:
        price = item.price
        recurring = price.recurring
        if recurring is None or recurring.usage_type != "metered":
            continue
        if "tiers" in price:
            return price.id, included_signups(price.tiers)
        if price.id == known.signups_price_id:
            return price.id, known.included_signups  # a price never changes its tiers
        fetched: Price = stripe_client().v1.prices.retrieve(price.id, params={"expand": ["tiers"]})
        return price.id, included_signups(fetched.tiers)
    return "", None


def _latest_invoice(subscription: Subscription | None) -> Invoice | None:
    latest = subscription.latest_invoice if subscription is not None else None
    return latest if isinstance(latest, Invoice) and latest.id else None


def account_sync(*, account: BillingAccount) -> BillingAccount:
    """Fetches the subscription and writes it here, with the access it allows and its latest
    invoice (so a missed invoice event cannot leave a stale pay link); returns the row."""
    started = timezone.now()
    subscription = _subscription_fetch(account)
    allowance = _allowance(subscription, account) if subscription is not None else ("", None)
    with transaction.atomic():
        row = BillingAccount.objects.select_for_update().select_related("tenant").get(pk=account.pk)
        if row.synced_at and row.synced_at >= started:
            return row  # a fetch that began after ours is already written: ours is older news
        row.synced_at = started
        if subscription is None:
            row.status = SubscriptionStatus.NONE
        else:
            _apply(row, subscription)
            row.signups_price_id, row.included_signups = allowance
        row.save()
        access_apply(tenant=row.tenant, access=ACCESS_BY_STATUS[SubscriptionStatus(row.status)])
        latest = _latest_invoice(subscription)
        if latest is not None:
            invoice_record(account=row, invoice=latest, started=started)
        pay_link_refresh(account=row)
    return row


def _apply(row: BillingAccount, subscription: Subscription) -> None:
    item_id, quantity, period_start, period_end = _seats_item(subscription)
    previous_start, previous_end = row.current_period_start, row.current_period_end
    row.stripe_subscription_id = subscription.id
    row.status = subscription.status
    row.trial_end = stripe_time(subscription.trial_end)
    row.cancel_at_period_end = subscription.cancel_at_period_end
    row.seats_item_id = item_id
    row.seats_billed = quantity
    row.current_period_start = period_start
    row.current_period_end = period_end
    if not (previous_start and previous_end and period_start):
        return
    # The period rolled over, or the subscription ended with it (cancelled at period end: Stripe
    # invoices the usage of that last period, and the period does not move): the period that
    # ended gets its month-end close.
    rolled = period_start > previous_start and subscription.status != "trialing"
    ended = stripe_time(subscription.ended_at)
    finished = subscription.status == "canceled" and ended is not None and ended >= previous_end
    if rolled or finished:
        PeriodClose.objects.get_or_create(
            account=row, period_start=previous_start, defaults={"period_end": previous_end}
        )


def access_apply(*, tenant: Tenant, access: str) -> bool:
    """Sets what the retailer may do; returns whether it changed. On leaving suspension the CRM
    deliveries that waited are released (``billing.services.suspension``)."""
    if tenant.access == access:
        return False
    before = tenant.access
    Tenant.objects.filter(pk=tenant.pk).update(access=access)
    tenant.access = access
    logger.info(
        "tenant access changed",
        extra={"tenant": tenant.slug, "access_before": before, "access": access},
    )
    if before == TenantAccess.SUSPENDED:
        from .suspension import deliveries_release

        transaction.on_commit(lambda: deliveries_release(tenant=tenant))
    return True


def account_for_customer(*, customer_id: str) -> BillingAccount | None:
    return (
        BillingAccount.objects.select_related("tenant")
        .filter(stripe_customer_id=customer_id)
        .first()
    )
