"""A trial that ends without a card pauses the shop; a card and a resume bring it back."""

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from billing import services
from billing.models import BillingAccount, SubscriptionStatus
from customerinfo.core.accounts.models import User
from tenants.models import Tenant, TenantAccess

from .conftest import Billing
from .test_signups import pay, session_of, start

pytestmark = pytest.mark.django_db

DAY = 86_400


def test_a_paused_trial_resumes_once_a_card_is_added(billing: Billing) -> None:
    tenant = services.trial_signup_complete(session_id=session_of(pay(start(slug="pausing"))))
    assert tenant is not None
    account = BillingAccount.objects.get(tenant=tenant)
    assert account.seats_billed == 0  # the new shop has no tablet yet

    billing.fake.advance(15 * DAY)  # the trial ends, with no card
    billing.deliver()
    account.refresh_from_db()
    assert account.status == SubscriptionStatus.PAUSED
    assert Tenant.objects.get(pk=tenant.pk).access == TenantAccess.SUSPENDED
    assert services.invoice_preview(account=account) is None  # a paused subscription has none

    owner = Client(HTTP_HOST="pausing.localhost")
    with tenant_context(tenant):
        owner.force_login(User.objects.get(email="owner@bakery.example"))
    page = owner.get("/billing/").content.decode()
    assert "Resume the subscription" in page

    billing.fake.set_card(account.stripe_customer_id, "succeeds")  # added in the portal
    assert owner.post("/billing/resume/").status_code == 302
    account.refresh_from_db()
    services.subscription_resume(account=account)  # a second click does nothing more
    billing.deliver()
    account.refresh_from_db()
    assert account.status == SubscriptionStatus.ACTIVE
    assert Tenant.objects.get(pk=tenant.pk).access == TenantAccess.FULL
