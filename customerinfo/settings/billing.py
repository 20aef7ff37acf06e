"""Billing: the Stripe account, the catalog's prices, and the month-end rules.

Without ``STRIPE_SECRET_KEY`` outside production, ``make run`` starts the built-in fake Stripe
(``billing.stripe_fake``) and points ``STRIPE_API_BASE`` at it.
"""

from .environment import env, required

#: A secret key (``sk_live_…``/``sk_test_…``); required in production, ``X_FILE``-able.
STRIPE_SECRET_KEY: str = required("STRIPE_SECRET_KEY", development_default="")
#: The signing secrets of the webhook endpoint, comma-separated: while a secret is rotated
#: Stripe signs with both, and an event signed by either is accepted.
STRIPE_WEBHOOK_SECRETS: list[str] = [
    secret.strip()
    for secret in required("STRIPE_WEBHOOK_SECRET", development_default="").split(",")
    if secret.strip()
]
#: Any Stripe-compatible server (the fake under ``make run`` and in tests); empty is Stripe's.
STRIPE_API_BASE: str = env.str("STRIPE_API_BASE", default="")
#: Pinned with the SDK's major version (pyproject.toml): a new API version is a deliberate
#: change, tested against its changelog, never a side effect of an upgrade.
STRIPE_API_VERSION = "2026-10-28.endive"
#: How fast the month-end close may call Stripe (read requests per second; Stripe allows 100).
STRIPE_MAX_REQUESTS_PER_SECOND: float = env.float("STRIPE_MAX_REQUESTS_PER_SECOND", default=100.0)
#: How long a signed webhook stays acceptable (Stripe's own libraries use 300 s).
STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300

# The catalog (``manage.py billing_sync_catalog`` makes it in Stripe from these).
BILLING_CURRENCY: str = env.str("BILLING_CURRENCY", default="eur")
#: Per active tablet per month, in cents.
BILLING_TABLET_PRICE_CENTS: int = env.int("BILLING_TABLET_PRICE_CENTS", default=1500)
#: Sign-ups included each month per shop, then the price per sign-up above it (in cents, may
#: be fractional: "0.5" is half a cent).
BILLING_INCLUDED_SIGNUPS: int = env.int("BILLING_INCLUDED_SIGNUPS", default=1000)
BILLING_SIGNUP_PRICE_CENTS: str = env.str("BILLING_SIGNUP_PRICE_CENTS", default="2")
BILLING_TRIAL_DAYS: int = env.int("BILLING_TRIAL_DAYS", default=14)

#: An account whose copy of its subscription is older than this is fetched from Stripe again by
#: the hourly re-sync, in case its webhooks were missed.
BILLING_RESYNC_AFTER_HOURS: int = env.int("BILLING_RESYNC_AFTER_HOURS", default=24)

# Who hears about a failed month-end close or a count Stripe disagrees with: OPERATOR_EMAILS
# (settings/operations.py), which still reads BILLING_OPERATOR_EMAILS when it is not set.
