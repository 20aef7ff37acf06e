"""Self-serve sign-up: form, Checkout, one shop, the owner signed in on it."""

import secrets

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from billing import services
from billing.models import BillingAccount, SubscriptionStatus, TrialSignup, TrialSignupState
from customerinfo.core.accounts.models import Role, User
from customerinfo.core.errors import ServiceError
from tenants.models import Tenant

from .conftest import Billing
from .support import browser

pytestmark = pytest.mark.django_db

ADDRESS = {"line1": "1 Rue de Rivoli", "city": "Paris", "postal_code": "75001", "country": "FR"}


def start(nonce: str = "", slug: str = "bakery", **changes: str) -> str:
    values = {
        "nonce": nonce or secrets.token_urlsafe(12),
        "shop_name": "The Bakery",
        "slug": slug,
        "owner_email": "Owner@Bakery.example",
        "password": "a-long-password",
        "success_url": "http://localhost/start/done/?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://localhost/start/?cancelled=1",
        **changes,
    }
    return services.trial_signup_start(**values)


def pay(checkout_url: str, card: str = "none") -> str:
    """A person on the Checkout page; returns where Stripe sends them back."""
    answer = browser().post(checkout_url, data={"card": card, "name": "Ann Baker", **ADDRESS})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def session_of(url: str) -> str:
    return url.rsplit("session_id=", 1)[1]


def test_a_double_click_is_one_sign_up_and_one_checkout(billing: Billing) -> None:
    first = start(nonce="same")
    second = start(nonce="same")
    assert first == second
    assert TrialSignup.objects.count() == 1
    customers = billing.client.v1.customers.list(params={"email": "owner@bakery.example"}).data
    assert len(customers) == 1


def test_checkout_makes_one_shop_whoever_arrives_first(billing: Billing) -> None:
    back = pay(start())
    session_id = session_of(back)
    billing.deliver()  # checkout.session.completed arrives first and makes the shop
    tenant = services.trial_signup_complete(session_id=session_id)  # the return page, second
    assert tenant is not None
    assert Tenant.objects.filter(slug="bakery").count() == 1
    assert services.trial_signup_complete(session_id=session_id) == tenant
    account = BillingAccount.objects.get(tenant=tenant)
    assert account.status == SubscriptionStatus.TRIALING
    # Checkout bills one tablet; the shop has none yet, and the seats follow at once.
    assert account.seats_billed == 0
    item = billing.client.v1.subscription_items.retrieve(account.seats_item_id)
    assert item.quantity == 0
    signup = TrialSignup.objects.get()
    assert signup.state == TrialSignupState.PROVISIONED
    assert signup.owner_password_hash == ""  # only the owner's account holds it now
    with tenant_context(tenant):
        owner = User.objects.get()
        assert (owner.email, owner.role) == ("owner@bakery.example", Role.OWNER)
        assert owner.check_password("a-long-password")


def test_the_return_page_signs_the_owner_in_on_their_own_host_once(billing: Billing) -> None:
    back = pay(start())
    response = Client(HTTP_HOST="localhost").get(f"/start/done/?session_id={session_of(back)}")
    assert response.status_code == 302
    welcome = response["Location"]
    assert welcome.startswith("http://bakery.localhost/welcome/")
    shop = Client(HTTP_HOST="bakery.localhost")
    path = welcome.removeprefix("http://bakery.localhost")
    landed = shop.get(path)
    assert landed.status_code == 302
    assert shop.get("/").status_code == 200  # signed in
    again = Client(HTTP_HOST="bakery.localhost").get(path)
    assert again.status_code == 400
    assert b"used already" in again.content


def test_an_address_being_taken_at_checkout_is_not_offered_twice(billing: Billing) -> None:
    start(slug="corner")
    with pytest.raises(ServiceError) as caught:
        start(slug="corner")
    assert caught.value.fields["slug"][0]["code"] == "slug_taken"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"slug": "www"}, "slug"),
        ({"slug": "Not Valid"}, "slug"),
        ({"owner_email": "nobody"}, "owner_email"),
        ({"password": "short"}, "password"),
        ({"shop_name": "  "}, "shop_name"),
    ],
)
def test_bad_answers_are_refused_field_by_field(
    billing: Billing, changes: dict[str, str], field: str
) -> None:
    with pytest.raises(ServiceError) as caught:
        start(**changes)
    assert field in caught.value.fields
    assert not TrialSignup.objects.exists()
