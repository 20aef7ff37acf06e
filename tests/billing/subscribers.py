"""A retailer subscribed in the fake Stripe through the API, with its account synced once, as
``trial_signup_complete`` leaves one (without the Checkout pages around it)."""

from typing import cast

from stripe.params import SubscriptionCreateParams

from billing import services
from billing.models import SIGNUPS, TABLETS, BillingAccount, CatalogPrice
from tenants.models import Tenant

from .conftest import Billing

DAY = 86_400
HOUR = 3_600


def subscribe(
    billing: Billing, tenant: Tenant, *, card: str = "succeeds", trial_days: int = 14
) -> BillingAccount:
    """A customer with a ``card`` ("succeeds", "declines"…) on the catalog's two prices as they
    are now, trialing for ``trial_days`` (none: the first month is charged at once)."""
    prices = {price.lookup_key: price.stripe_price_id for price in CatalogPrice.objects.all()}
    customer = billing.client.v1.customers.create(
        params={"email": f"owner@{tenant.slug}.example", "name": tenant.name}
    )
    billing.fake.set_card(customer.id, card)
    params: dict[str, object] = {
        "customer": customer.id,
        "items": [{"price": prices[TABLETS], "quantity": 1}, {"price": prices[SIGNUPS]}],
    }
    if trial_days:
        params["trial_period_days"] = trial_days
    subscription = billing.client.v1.subscriptions.create(
        params=cast(SubscriptionCreateParams, params)
    )
    account = BillingAccount.objects.create(
        tenant=tenant, stripe_customer_id=customer.id, stripe_subscription_id=subscription.id
    )
    return services.account_sync(account=account)


def renewal_declined(billing: Billing, account: BillingAccount) -> None:
    """The trial (one day) ends and its first invoice is declined: past due, the invoice open."""
    billing.fake.set_card(account.stripe_customer_id, "declines")
    billing.fake.advance(DAY + 2 * HOUR)
    subscription = billing.client.v1.subscriptions.retrieve(account.stripe_subscription_id)
    assert subscription.status == "past_due"
