"""The owners' billing page: who may see it, what it shows, and that charlie sees nothing of
alice's."""

import pytest
from django.test import Client
from pytest_django import Settings

from billing import services
from billing.models import (
    BillingAccount,
    SubscriptionStatus,
    TrialSignup,
)
from customerinfo.core.accounts.models import User
from tenants.models import Tenant, TenantAccess
from tests.conftest import login

from .conftest import Billing
from .pages import (
    account_for,
    form_values,
    html,
    public_client,
    set_access,
    stripe_unreachable,
    text_of,
)
from .support import browser
from .test_signups import ADDRESS

pytestmark = pytest.mark.django_db


@pytest.fixture
def public() -> Client:
    return public_client()


# --- the owners' billing page ----------------------------------------------------------------


def test_the_owner_sees_the_billing_page(owner_client: Client, alice_tenant: Tenant) -> None:
    account_for(alice_tenant, status=SubscriptionStatus.ACTIVE, invoice="ALICE-0001")
    response = owner_client.get("/billing/")
    assert response.status_code == 200
    page = text_of(response)
    assert "Status Active" in page
    assert "Tablets billed 3" in page
    assert "Sign-ups this period 0" in page
    assert "ALICE-0001" in page
    assert "€45.50" in page  # not rounded to 46


def test_a_shop_made_by_an_operator_is_not_billed_here(owner_client: Client) -> None:
    response = owner_client.get("/billing/")
    assert response.status_code == 200
    assert "not billed through the portal" in text_of(response)


def test_a_manager_gets_the_403_page(manager_client: Client) -> None:
    response = manager_client.get("/billing/")
    assert response.status_code == 403
    assert "cannot see billing" in text_of(response)
    assert manager_client.post("/billing/manage/").status_code == 403


def test_anonymous_goes_to_sign_in(alice_client: Client) -> None:
    response = alice_client.get("/billing/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/billing/"


def test_charlie_never_sees_alices_account(
    alice_tenant: Tenant, charlie_tenant: Tenant, charlie_client: Client, charlie: User
) -> None:
    account_for(
        alice_tenant,
        status=SubscriptionStatus.PAST_DUE,
        invoice="ALICE-0001",
        latest_invoice_url="https://invoice.example/alice-open",
    )
    set_access(alice_tenant, TenantAccess.WARNED)
    login(charlie_client, charlie_tenant, charlie)
    alone = charlie_client.get("/billing/")
    assert alone.status_code == 200
    assert "not billed through the portal" in text_of(alone)
    account_for(charlie_tenant, status=SubscriptionStatus.ACTIVE, invoice="CHARLIE-0001")
    response = charlie_client.get("/billing/")
    page = response.content.decode()
    assert "CHARLIE-0001" in page
    for alices in ["ALICE-0001", "cus_alice", "in_alice", "invoice.example/alice", "overdue"]:
        assert alices not in page, alices
    assert "payment failed" not in text_of(response).lower()
    # charlie's session means nothing on alice's host.
    elsewhere = charlie_client.get("/billing/", HTTP_HOST="alice.localhost")
    assert elsewhere.status_code == 302
    assert elsewhere["Location"].startswith("/login/")


def test_alices_welcome_link_does_not_sign_anyone_in_on_charlies_host(
    alice_tenant: Tenant, charlie_client: Client
) -> None:
    TrialSignup.objects.create(
        nonce="n-alice",
        shop_name="Alice's Shop",
        slug="alice",
        owner_email="alice@alice.example",
        state="provisioned",
        tenant=alice_tenant,
    )
    token = services.welcome_token(tenant=alice_tenant)
    response = charlie_client.get(f"/welcome/{token}/")
    assert response.status_code == 400
    assert "for another shop" in text_of(response)
    assert charlie_client.get("/billing/").status_code == 302  # still nobody
    # On alice's own host it works, once.
    alice_host = Client(HTTP_HOST="alice.localhost")
    assert alice_host.get(f"/welcome/{token}/")["Location"] == "/"
    assert alice_host.get("/").status_code == 200


def test_a_forged_or_unknown_welcome_link_is_refused(alice_client: Client) -> None:
    response = alice_client.get("/welcome/not-a-token/")
    assert response.status_code == 400
    assert "expired" in text_of(response)
    assert 'href="/login/"' in response.content.decode()


def test_the_customer_portal_button_opens_stripes_portal(
    billing: Billing, owner_client: Client, alice_tenant: Tenant
) -> None:
    customer = billing.client.v1.customers.create(params={"email": "alice@alice.example"})
    account_for(alice_tenant, status=SubscriptionStatus.ACTIVE, invoice="A-1", customer=customer.id)
    page = html(owner_client.get("/billing/"))
    assert any(
        attrs.get("name") == "csrfmiddlewaretoken" for attrs in page.inputs.values()
    )  # the button is a form that posts
    response = owner_client.post("/billing/manage/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"{billing.fake.url}/portal/bps_")
    portal = browser().get(response["Location"])
    assert portal.status_code == 200


def test_stripe_unreachable_for_the_portal_is_said_on_the_billing_page(
    billing: Billing,
    owner_client: Client,
    alice_tenant: Tenant,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account_for(alice_tenant, status=SubscriptionStatus.ACTIVE, invoice="A-1")
    stripe_unreachable(settings, monkeypatch)
    response = owner_client.post("/billing/manage/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain == [("/billing/", 302)]
    assert "could not reach our payment provider" in text_of(response)


def test_the_owner_of_a_new_shop_sees_trial_seats_and_sign_ups(billing: Billing) -> None:
    """The whole sign-up with plain HTTP, then the page the new owner opens first."""
    public = Client(HTTP_HOST="localhost")
    checkout = public.post("/start/", form_values())["Location"]
    back = browser().post(checkout, data={"card": "none", "name": "Ann Baker", **ADDRESS})
    assert back.status_code == 303
    done = public.get(back.headers["location"].removeprefix("http://localhost"))
    assert done.status_code == 302
    shop = Client(HTTP_HOST="bakery.localhost")
    assert shop.get(done["Location"].removeprefix("http://bakery.localhost"))["Location"] == "/"
    account = BillingAccount.objects.get(tenant__slug="bakery")
    assert account.trial_end is not None
    response = shop.get("/billing/")
    assert response.status_code == 200
    page = text_of(response)
    assert "Status Trial" in page
    assert f"Trial ends {account.trial_end:%-d %B %Y}" in page
    assert "Tablets billed 0" in page  # Checkout billed one; the shop has no tablet yet
    assert "Sign-ups this period 0 of 1,000 included" in page
    assert "add a card before it ends" in page
    # The trial's first invoice is for nothing, already paid: it is listed, with no pay link.
    assert "FAKE-0001 Paid €0.00" in page
    assert account.latest_invoice_url == ""
    assert 'href="/billing/" aria-current="page"' in response.content.decode()


def test_start_done_with_an_unknown_session_says_so(billing: Billing, public: Client) -> None:
    for query in ["", "?session_id=cs_test_nothing_like_it"]:
        response = public.get(f"/start/done/{query}")
        assert response.status_code == 404, query
        assert "could not find a finished Checkout" in text_of(response)


def test_start_done_while_stripe_is_unreachable_asks_to_reload(
    billing: Billing, public: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    stripe_unreachable(settings, monkeypatch)
    response = public.get("/start/done/?session_id=cs_test_x")
    assert response.status_code == 503
    assert "reload this page" in text_of(response)
