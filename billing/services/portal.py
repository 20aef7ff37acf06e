"""Stripe's hosted pages for a retailer: the Customer Portal, and the invoice to come."""

import logging
from typing import Any

from stripe import StripeError

from ..models import BillingAccount
from .client import stripe_client

logger = logging.getLogger(__name__)


def customer_portal_url(*, account: BillingAccount, return_url: str) -> str:
    session = stripe_client().v1.billing_portal.sessions.create(
        params={"customer": account.stripe_customer_id, "return_url": return_url}
    )
    return session.url


def invoice_preview(*, account: BillingAccount) -> dict[str, Any] | None:
    """The next invoice as Stripe would draw it now; None when there is none or Stripe cannot
    say (the page shows the rest without it)."""
    if not account.stripe_subscription_id:
        return None
    try:
        invoice = stripe_client().v1.invoices.create_preview(
            params={
                "customer": account.stripe_customer_id,
                "subscription": account.stripe_subscription_id,
            }
        )
    except StripeError:
        logger.warning("invoice preview unavailable", exc_info=True)
        return None
    return {
        "amount_due": invoice.amount_due / 100,
        "currency": invoice.currency.upper(),
        "period_end": invoice.period_end,
        "lines": [
            {"description": line.description or "", "amount": line.amount / 100}
            for line in invoice.lines.data
        ],
    }
