"""A suspended or warned shop: it reads but does not change, its tablets keep capturing, its
banner says how to pay."""

import re
from datetime import UTC, datetime

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from billing.models import (
    SubscriptionStatus,
)
from signup.models import Location, Submission
from tenants.models import Tenant, TenantAccess
from tests.signup.factories import Kiosk

from .conftest import Billing
from .pages import account_for, public_client, set_access, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def public() -> Client:
    return public_client()


# --- a suspended or warned shop --------------------------------------------------------------


STORE = {"name": "Lyon", "code": "lyon", "country": "FR", "time_zone": "Europe/Paris"}


def test_a_suspended_shop_reads_but_does_not_change(
    billing: Billing, owner_client: Client, alice_tenant: Tenant
) -> None:
    customer = billing.client.v1.customers.create(params={"email": "alice@alice.example"})
    account_for(alice_tenant, status=SubscriptionStatus.UNPAID, invoice="A-1", customer=customer.id)
    set_access(alice_tenant, TenantAccess.SUSPENDED)
    refused = owner_client.post("/stores/new/", STORE)
    assert refused.status_code == 403
    assert "Your account is suspended" in text_of(refused)
    assert '<a class="button" href="/billing/">Pay now</a>' in refused.content.decode()
    with tenant_context(alice_tenant):
        assert not Location.objects.filter(code="lyon").exists()
    # A button that posts with htmx would swap nothing on a 403: the page reloads instead,
    # and its banner says why.
    htmx = owner_client.post("/stores/new/", STORE, headers={"HX-Request": "true"})
    assert htmx.status_code == 403
    assert htmx["HX-Refresh"] == "true"
    assert owner_client.get("/stores/").status_code == 200
    assert owner_client.get("/stores/new/").status_code == 200
    billing_page = owner_client.get("/billing/")
    assert billing_page.status_code == 200
    assert "suspended" in text_of(billing_page)
    manage = owner_client.post("/billing/manage/")
    assert manage.status_code == 302
    assert manage["Location"].startswith(f"{billing.fake.url}/portal/")
    assert owner_client.post("/password/reset/", {"email": "x@y.example"}).status_code == 302
    assert owner_client.post("/logout/").status_code == 302


def test_a_suspended_shop_asks_a_manager_to_get_the_owner_to_pay(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    set_access(alice_tenant, TenantAccess.SUSPENDED)
    refused = manager_client.post("/stores/new/", STORE)
    assert refused.status_code == 403
    page = text_of(refused)
    assert "Your account is suspended" in page
    assert "Ask the shop's owner" in page
    assert 'href="/billing/"' not in refused.content.decode()  # a page they could not open


def test_a_suspended_shops_tablets_keep_taking_sign_ups(
    kiosk: Kiosk, alice_client: Client, alice_tenant: Tenant
) -> None:
    set_access(alice_tenant, TenantAccess.SUSPENDED)
    payload = {
        "id": "5f0e8f8e-3b6a-4f7e-9a55-3d1c2b0a9e11",
        "form_version": kiosk.version.pk,
        "locale": "en",
        "captured_at": datetime.now(UTC).isoformat(),
        "answers": {"email": "shopper@example.com"},
        "consents": {"email": True},
    }
    response = alice_client.post(
        "/api/kiosk/submissions", payload, content_type="application/json", headers=kiosk.headers
    )
    assert response.status_code == 201, response.content
    heartbeat = alice_client.post(
        "/api/kiosk/heartbeat",
        {"queue_depth": 0},
        content_type="application/json",
        headers=kiosk.headers,
    )
    assert heartbeat.status_code < 400
    assert Submission.objects.filter(email="shopper@example.com").exists()


@pytest.mark.parametrize(
    ("access", "banner"),
    [
        (TenantAccess.WARNED, "The last payment failed."),
        (TenantAccess.SUSPENDED, "This account is suspended"),
    ],
)
def test_the_banner_says_what_is_wrong_and_how_to_pay(
    owner_client: Client, alice_tenant: Tenant, access: str, banner: str
) -> None:
    assert "payment failed" not in text_of(owner_client.get("/"))
    set_access(alice_tenant, access)
    response = owner_client.get("/")
    assert response.status_code == 200
    assert banner in text_of(response)
    assert re.search(
        r'class="banner[^"]*"[^>]*>.*?href="/billing/">Pay now</a>', response.content.decode(), re.S
    )


def test_a_warned_owner_is_shown_the_open_invoice_to_pay(
    owner_client: Client, alice_tenant: Tenant
) -> None:
    account_for(
        alice_tenant,
        status=SubscriptionStatus.PAST_DUE,
        invoice="ALICE-0002",
        latest_invoice_url="https://invoice.example/alice-open",
    )
    set_access(alice_tenant, TenantAccess.WARNED)
    response = owner_client.get("/billing/")
    page = text_of(response)
    assert "Status Payment overdue" in page
    assert "Your last payment failed." in page
    assert '<a class="button" href="https://invoice.example/alice-open">' in (
        response.content.decode()
    )


def test_a_warned_shop_still_changes_things(owner_client: Client, alice_tenant: Tenant) -> None:
    set_access(alice_tenant, TenantAccess.WARNED)
    assert owner_client.post("/stores/new/", STORE).status_code == 302
    with tenant_context(alice_tenant):
        assert Location.objects.filter(code="lyon").exists()
