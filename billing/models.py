"""Billing state, in the public schema: one account per retailer, and the ledgers that make every
job that talks to Stripe safe to run twice.

Stripe is the source of truth for money (subscriptions, invoices); we keep a copy of what access
depends on, refreshed from Stripe whenever a webhook says something changed. Sign-ups are the
source of truth for usage; ``UsageReport`` records what was sent, because Stripe forgets a meter
event's identifier after about a day and a re-run must never bill a sign-up twice.
"""

from django.db import models
from django.utils.translation import gettext_lazy, pgettext_lazy

from tenants.models import TenantAccess


class SubscriptionStatus(models.TextChoices):
    """Stripe's subscription statuses, plus ``none`` before Checkout has made one."""

    NONE = "none", gettext_lazy("No subscription yet")
    INCOMPLETE = "incomplete", gettext_lazy("Incomplete")
    INCOMPLETE_EXPIRED = "incomplete_expired", gettext_lazy("Incomplete, expired")
    TRIALING = "trialing", gettext_lazy("Trial")
    ACTIVE = "active", pgettext_lazy("subscription", "Active")
    PAST_DUE = "past_due", gettext_lazy("Payment overdue")
    UNPAID = "unpaid", gettext_lazy("Unpaid")
    PAUSED = "paused", gettext_lazy("Paused")
    CANCELED = "canceled", gettext_lazy("Canceled")


#: What each status lets a retailer do (docs/billing.md says why).
ACCESS_BY_STATUS = {
    SubscriptionStatus.NONE: TenantAccess.FULL,
    SubscriptionStatus.TRIALING: TenantAccess.FULL,
    SubscriptionStatus.ACTIVE: TenantAccess.FULL,
    SubscriptionStatus.PAST_DUE: TenantAccess.WARNED,
    SubscriptionStatus.INCOMPLETE: TenantAccess.WARNED,
    SubscriptionStatus.INCOMPLETE_EXPIRED: TenantAccess.SUSPENDED,
    SubscriptionStatus.UNPAID: TenantAccess.SUSPENDED,
    SubscriptionStatus.PAUSED: TenantAccess.SUSPENDED,
    SubscriptionStatus.CANCELED: TenantAccess.SUSPENDED,
}


class BillingAccount(models.Model):
    """A retailer as a Stripe customer. Tenants without one (made by an operator) are not billed."""

    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="billing_account"
    )
    stripe_customer_id = models.CharField(max_length=255, unique=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True, db_index=True)
    #: The subscription item whose quantity is the number of tablets billed.
    seats_item_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=24, choices=SubscriptionStatus.choices, default=SubscriptionStatus.NONE
    )
    trial_end = models.DateTimeField(null=True, blank=True)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    #: Tablets billed, as Stripe last confirmed; ``seats_wanted`` is what the shop has now.
    seats_billed = models.PositiveIntegerField(default=0)
    seats_wanted = models.PositiveIntegerField(default=0)
    #: How many seat changes were asked for: the idempotency key of each change names its number,
    #: so a retried update is the same request and a later one is a new request.
    seats_change = models.PositiveIntegerField(default=0)
    #: When the copy above was fetched from Stripe (our clock, taken before the request): a fetch
    #: that started earlier than the stored one is older news and is not written.
    synced_at = models.DateTimeField(null=True, blank=True)
    #: The hosted page of the newest open invoice (the "pay now" link), empty when nothing is
    #: owed: recomputed from ``InvoiceRecord`` whenever an invoice or the subscription is synced.
    latest_invoice_url = models.URLField(max_length=1000, blank=True)
    #: The subscription's sign-up price and the sign-ups it includes each period (its first tier,
    #: when free): a retailer on an older price keeps that price's allowance, whatever the catalog
    #: sells today. Empty and null until the first sync that saw the price.
    signups_price_id = models.CharField(max_length=255, blank=True)
    included_signups = models.PositiveIntegerField(null=True, blank=True)
    #: Every hour before this has been counted into ``UsageReport`` (hours with no sign-up have
    #: no row); the usage job starts from here.
    usage_counted_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant__name"]
        indexes = [models.Index(fields=["status"], name="billing_account_status_idx")]

    def __str__(self) -> str:
        return f"{self.tenant} ({self.get_status_display()})"


class TrialSignupState(models.TextChoices):
    CHECKOUT = "checkout", "At Checkout"
    PROVISIONED = "provisioned", "Provisioned"
    ABANDONED = "abandoned", "Abandoned"


class TrialSignup(models.Model):
    """A retailer on its way from the public sign-up form to its own portal.

    The row is made once per form submission (its ``nonce``, from the form, makes a double click
    the same sign-up), holds the shop's address until Checkout is done, and turns into a tenant
    exactly once, whichever comes first: the shopper back from Checkout or the webhook.
    """

    nonce = models.CharField(max_length=64, unique=True)
    shop_name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=40)
    owner_email = models.EmailField()
    owner_password_hash = models.CharField(max_length=256)
    #: The address the retailer asked for, when someone else took it while they were at Checkout
    #: and the shop was made under ``slug``, a free variant of it (the owner is told).
    requested_slug = models.SlugField(max_length=40, blank=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    checkout_session_id = models.CharField(max_length=255, blank=True, db_index=True)
    state = models.CharField(
        max_length=16, choices=TrialSignupState.choices, default=TrialSignupState.CHECKOUT
    )
    tenant = models.OneToOneField(
        "tenants.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: When the owner used the one-time link that signed them in on their new shop.
    welcomed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One shop address waits at Checkout at a time; an abandoned attempt frees it.
            models.UniqueConstraint(
                fields=["slug"],
                condition=models.Q(state="checkout"),
                name="billing_trial_signup_slug_waiting",
            )
        ]

    def __str__(self) -> str:
        return f"{self.slug} ({self.get_state_display()})"


class StripeEvent(models.Model):
    """A webhook event, stored once by its id, then processed by a worker."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    #: The event as received (its object is a snapshot; processing fetches the object afresh).
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=models.Q(processed_at__isnull=True),
                name="billing_event_unprocessed_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class UsageReport(models.Model):
    """Sign-ups of one retailer in one hour, as reported (or to be reported) to Stripe.

    Sign-ups count in the hour they were received, not captured: a tablet that was offline for a
    week reports its sign-ups when they arrive, into the period open then. Hours already sent
    are never sent again; an hour that had no sign-ups is recorded without a request.
    """

    account = models.ForeignKey(BillingAccount, on_delete=models.PROTECT, related_name="usage")
    hour = models.DateTimeField()
    signups = models.PositiveIntegerField()
    #: The meter event's identifier: the same hour of the same retailer is always the same event.
    identifier = models.CharField(max_length=100, unique=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "hour"]
        constraints = [
            models.UniqueConstraint(fields=["account", "hour"], name="billing_usage_account_hour")
        ]
        indexes = [
            # The hourly job's query (``usage_send``): unsent rows, oldest hour first. Sent rows
            # pile up for ever and unsent ones are a handful, so only those are indexed.
            models.Index(
                fields=["hour", "id"],
                condition=models.Q(sent_at__isnull=True),
                name="billing_usage_unsent_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.identifier}: {self.signups}"


class CloseState(models.TextChoices):
    OPEN = "open", "Not closed yet"
    RECONCILED = "reconciled", "Reconciled"
    ADJUSTED = "adjusted", "Reconciled after a correction"
    MISMATCH = "mismatch", "Stripe counts more than we do"
    FAILED = "failed", "Failed"


class PeriodClose(models.Model):
    """The month-end of one retailer's billing period: usage flushed and checked against Stripe.

    Re-running a close that reconciled does nothing; a failed one is tried again by the next run.
    """

    account = models.ForeignKey(BillingAccount, on_delete=models.PROTECT, related_name="closes")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    state = models.CharField(max_length=16, choices=CloseState.choices, default=CloseState.OPEN)
    ours = models.PositiveIntegerField(default=0)
    stripes = models.PositiveIntegerField(default=0)
    #: The correction sent when Stripe had fewer sign-ups than we did (its meter identifier).
    adjustment_identifier = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "period_start"], name="billing_close_account_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account.tenant} {self.period_start:%Y-%m-%d}: {self.state}"


class InvoiceRecord(models.Model):
    """An invoice as the last webhook about it said: for the billing page and the operator."""

    account = models.ForeignKey(BillingAccount, on_delete=models.PROTECT, related_name="invoices")
    stripe_invoice_id = models.CharField(max_length=255, unique=True)
    number = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=24)
    currency = models.CharField(max_length=3)
    amount_due = models.BigIntegerField(default=0)
    amount_paid = models.BigIntegerField(default=0)
    hosted_invoice_url = models.URLField(max_length=1000, blank=True)
    period_start = models.DateTimeField(null=True, blank=True)
    period_end = models.DateTimeField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    created = models.DateTimeField()
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"{self.number or self.stripe_invoice_id} ({self.status})"


#: The lookup keys of the catalog's two prices (``billing.services.catalog`` makes them).
TABLETS = "customerinfo_tablet_monthly"
SIGNUPS = "customerinfo_signups_monthly"


class CatalogPrice(models.Model):
    """A price of the catalog as ``billing_sync_catalog`` made or found it in Stripe.

    The public pricing and Checkout read it from here, so a page view never waits on Stripe.
    """

    lookup_key = models.CharField(max_length=100, unique=True)
    stripe_price_id = models.CharField(max_length=255)
    stripe_product_id = models.CharField(max_length=255)
    #: The Billing Meter of a metered price (sign-ups); empty for the per-tablet price.
    stripe_meter_id = models.CharField(max_length=255, blank=True)
    meter_event_name = models.CharField(max_length=100, blank=True)
    currency = models.CharField(max_length=3)
    #: Per unit, in cents, for a licensed price; the graduated tiers for a metered one:
    #: ``[{"up_to": 1000 | None, "unit_amount_decimal": "0"}, …]``.
    unit_amount = models.PositiveIntegerField(null=True, blank=True)
    tiers = models.JSONField(default=list, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["lookup_key"]

    def __str__(self) -> str:
        return f"{self.lookup_key} ({self.stripe_price_id})"
