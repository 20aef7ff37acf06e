"""Stripe's hosted pages for a retailer: the Customer Portal, and the invoice to come."""

import logging
from typing import Any

from stripe import InvalidRequestError, StripeError

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
    except InvalidRequestError as error:
        if error.code != "invoice_upcoming_none":  # a paused or canceled subscription has none
            logger.warning("invoice preview unavailable", exc_info=True)
        return None
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


def subscription_resume(*, account: BillingAccount) -> None:
    """Resumes a paused subscription (a trial that ended without a card), billing from now.

    Stripe charges the first invoice at once; a card that fails leaves it past due, which the
    billing page then says. The idempotency key names the state it resumes from, so a double
    click is one resume.
    """
    if account.status != "paused" or not account.stripe_subscription_id:
        return
    stamp = int(account.synced_at.timestamp()) if account.synced_at else 0
    stripe_client().v1.subscriptions.resume(
        account.stripe_subscription_id,
        params={"billing_cycle_anchor": {"type": "now"}},
        options={"idempotency_key": f"resume-{account.pk}-{stamp}"},
    )
