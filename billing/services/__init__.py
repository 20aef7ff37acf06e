"""Writes of billing, one module per sub-domain; callers import from here.

``catalog`` (prices in Stripe), ``signups`` (self-serve sign-up and Checkout) and ``addresses``
(a shop whose address was taken meanwhile), ``accounts`` (our copy of each subscription, and
access) and ``resync`` (the accounts webhooks missed), ``seats`` (tablets billed), ``usage``
(sign-ups to the meter), ``close`` (month end), ``invoices`` (and the pay link), ``webhooks``,
``suspension``.
"""

from ..models import SIGNUPS, TABLETS
from .accounts import access_apply, account_for_customer, account_sync
from .catalog import catalog_sync
from .client import stripe_client, stripe_client_reset
from .close import period_close, periods_close
from .invoices import invoice_sync, pay_link_refresh
from .portal import customer_portal_url, invoice_preview, subscription_resume
from .resync import accounts_resync
from .seats import seats_sync, seats_sync_all
from .signups import (
    slug_available,
    trial_signup_complete,
    trial_signup_start,
    trial_signups_expire,
    welcome_token,
    welcome_use,
)
from .suspension import deliveries_release
from .usage import usage_count, usage_send
from .webhooks import event_process, event_receive, events_process_pending

__all__ = [
    "SIGNUPS",
    "TABLETS",
    "access_apply",
    "account_for_customer",
    "account_sync",
    "accounts_resync",
    "catalog_sync",
    "customer_portal_url",
    "deliveries_release",
    "event_process",
    "event_receive",
    "events_process_pending",
    "invoice_preview",
    "invoice_sync",
    "pay_link_refresh",
    "period_close",
    "periods_close",
    "seats_sync",
    "seats_sync_all",
    "slug_available",
    "stripe_client",
    "stripe_client_reset",
    "subscription_resume",
    "trial_signup_complete",
    "trial_signup_start",
    "trial_signups_expire",
    "usage_count",
    "usage_send",
    "welcome_token",
    "welcome_use",
]
