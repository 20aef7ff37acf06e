"""Tablets billed follow the tablets paired.

Pairing or revoking a tablet sends ``signup.signals.tablets_changed``; billing answers with one
``seats_sync`` a minute later (a burst of pairings makes one update). An hourly sweep over every
retailer catches anything a lost message missed.

Proration: ``create_prorations``. A tablet added on the 20th costs the rest of the month on the
next invoice, and one revoked earns the unused part back as a credit; nobody gets a separate
invoice for each change, and the month's invoice says what happened.
"""

import logging

from django.db import transaction

from ..models import BillingAccount, SubscriptionStatus
from ..selectors import billed_accounts, tablets_by_schema
from .client import stripe_client

logger = logging.getLogger(__name__)

#: Statuses whose subscription takes a quantity change.
_CHANGEABLE = {
    SubscriptionStatus.TRIALING,
    SubscriptionStatus.ACTIVE,
    SubscriptionStatus.PAST_DUE,
    SubscriptionStatus.UNPAID,
    SubscriptionStatus.PAUSED,
}


def seats_sync(*, account: BillingAccount, tablets: int | None = None) -> bool:
    """Sets the subscription's quantity to the tablets paired; returns whether Stripe was told."""
    if tablets is None:
        tablets = tablets_by_schema(schemas=[account.tenant.schema_name]).get(
            account.tenant.schema_name, 0
        )
    with transaction.atomic():
        row = BillingAccount.objects.select_for_update().get(pk=account.pk)
        row.seats_wanted = tablets
        if row.seats_billed == tablets or not row.seats_item_id or row.status not in _CHANGEABLE:
            row.save(update_fields=["seats_wanted"])
            return False
        # The change gets its number before Stripe is called: a retry of this call reuses the
        # key (and Stripe's stored answer), a later change gets a new one.
        row.seats_change += 1
        row.save(update_fields=["seats_wanted", "seats_change"])
    stripe_client().v1.subscription_items.update(
        row.seats_item_id,
        params={"quantity": tablets, "proration_behavior": "create_prorations"},
        options={"idempotency_key": f"seats-{row.pk}-{row.seats_change}-{tablets}"},
    )
    BillingAccount.objects.filter(pk=row.pk).update(seats_billed=tablets)
    logger.info("seats billed changed", extra={"tenant": row.tenant_id, "seats": tablets})
    return True


def seats_sync_all() -> int:
    """The hourly sweep: every billed retailer whose tablets differ from its seats."""
    accounts = billed_accounts()
    counts = tablets_by_schema(schemas=[account.tenant.schema_name for account in accounts])
    changed = 0
    for account in accounts:
        tablets = counts.get(account.tenant.schema_name, 0)
        if tablets != account.seats_billed:
            changed += seats_sync(account=account, tablets=tablets)
    return changed
