"""The "pay the open invoice" link: there while an invoice is open, gone once it is paid, voided
or deleted, whether Stripe's event arrives, or is missed and the subscription sync notices."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing import services
from billing.models import BillingAccount, InvoiceRecord
from billing.services.client import Pace
from billing.services.invoices import invoices_unsettled_sync
from tenants.models import Tenant

from .conftest import Billing
from .pages import text_of
from .subscribers import DAY, renewal_declined, subscribe

pytestmark = pytest.mark.django_db


def _open_invoice(billing: Billing, account: BillingAccount) -> str:
    invoices = billing.client.v1.invoices.list(
        params={"customer": account.stripe_customer_id, "status": "open"}
    ).data
    assert len(invoices) == 1
    assert invoices[0].hosted_invoice_url
    return invoices[0].hosted_invoice_url


def _link(account: BillingAccount) -> str:
    account.refresh_from_db()
    return account.latest_invoice_url


@pytest.fixture
def past_due(billing: Billing, alice_tenant: Tenant) -> BillingAccount:
    """alice's first invoice, at the end of a one-day trial, was declined; its events delivered."""
    account = subscribe(billing, alice_tenant, trial_days=1)
    renewal_declined(billing, account)
    assert set(billing.deliver()) == {200}
    assert _link(account) == _open_invoice(billing, account)
    return account


def test_paying_the_open_invoice_takes_the_link_away(
    billing: Billing, past_due: BillingAccount, owner_client: Client
) -> None:
    page = owner_client.get("/billing/")
    assert "Pay the open invoice" in text_of(page)
    billing.fake.set_card(past_due.stripe_customer_id, "succeeds")
    billing.fake.advance(3 * DAY + 60)  # Stripe's retry takes the money
    assert set(billing.deliver()) == {200}
    assert _link(past_due) == ""
    assert InvoiceRecord.objects.filter(account=past_due, status="open").count() == 0
    page = owner_client.get("/billing/")
    assert "Pay the open invoice" not in text_of(page)
    assert "Status Active" in text_of(page)


def test_voiding_the_open_invoice_takes_the_link_away(
    billing: Billing, past_due: BillingAccount
) -> None:
    invoice = InvoiceRecord.objects.get(account=past_due, status="open")
    billing.client.v1.invoices.void_invoice(invoice.stripe_invoice_id)
    assert set(billing.deliver()) == {200}
    assert _link(past_due) == ""
    invoice.refresh_from_db()
    assert invoice.status == "void"


def test_a_missed_payment_event_is_repaired_by_the_subscription_sync(
    billing: Billing, past_due: BillingAccount
) -> None:
    billing.fake.set_card(past_due.stripe_customer_id, "succeeds")
    billing.fake.advance(3 * DAY + 60)
    billing.webhooks()  # every event of the payment is lost on the way
    assert _link(past_due) != ""
    # The subscription's own sync (a later event, or the hourly re-sync) brings the latest
    # invoice with it, in the same request.
    before = len(billing.fake.requests)
    services.account_sync(account=past_due)
    assert len(billing.fake.requests) == before + 1
    assert _link(past_due) == ""
    assert not InvoiceRecord.objects.filter(account=past_due, status="open").exists()


def test_an_older_open_invoice_paid_unseen_is_found_by_the_unsettled_sweep(
    billing: Billing, past_due: BillingAccount
) -> None:
    """Not the latest invoice, so the subscription does not bring it: the re-sync fetches every
    invoice we still hold as open."""
    invoice = InvoiceRecord.objects.get(account=past_due, status="open")
    billing.client.v1.invoices.pay(invoice.stripe_invoice_id, params={"paid_out_of_band": True})
    billing.webhooks()  # lost
    # A newer invoice the account knows of, paid: the open one is no longer the latest.
    InvoiceRecord.objects.create(
        account=past_due,
        stripe_invoice_id="in_newer",
        status="paid",
        currency="eur",
        created=timezone.now(),
        synced_at=timezone.now(),
    )
    assert invoices_unsettled_sync(account=past_due, pace=Pace(0)) == 1
    assert _link(past_due) == ""
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_an_invoice_stripe_no_longer_has_is_forgotten(
    billing: Billing, past_due: BillingAccount
) -> None:
    """A draft deleted in Stripe (``invoice.deleted``): fetching it answers 404."""
    now = timezone.now()
    InvoiceRecord.objects.filter(account=past_due).update(created=now - timedelta(days=9))
    InvoiceRecord.objects.create(
        account=past_due,
        stripe_invoice_id="in_deleted_draft",
        status="open",
        currency="eur",
        hosted_invoice_url="https://invoice.example/deleted",
        created=now,
        synced_at=now,
    )
    services.pay_link_refresh(account=past_due)
    assert _link(past_due) == "https://invoice.example/deleted"
    assert services.invoice_sync(invoice_id="in_deleted_draft") is None
    assert not InvoiceRecord.objects.filter(stripe_invoice_id="in_deleted_draft").exists()
    # Back to the open invoice Stripe still has.
    assert _link(past_due) == _open_invoice(billing, past_due)
