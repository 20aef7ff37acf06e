"""A shop's address taken while its retailer was at Checkout: the retailer who paid still gets a
shop, under a free variant of the address, and is told; never an error page, never a lost
subscription, whichever of the return page and the webhook comes first."""

from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from pytest_django import Settings

from billing import services
from billing.models import BillingAccount, StripeEvent, SubscriptionStatus, TrialSignup
from billing.services import addresses
from customerinfo.core.accounts.models import User
from tenants import services as tenant_services
from tenants.models import Tenant
from tenants.services import SLUG_PATTERN, tenant_create

from .conftest import Billing
from .pages import text_of
from .test_signups import pay, session_of, start

pytestmark = pytest.mark.django_db

Capture = Callable[..., Any]


def _operator_takes(slug: str) -> Tenant:
    """``manage.py tenant_create``: knows nothing of sign-ups waiting at Checkout."""
    return tenant_create(
        name="Operator's demo",
        slug=slug,
        owner_email="ops@customerinfo.test",
        owner_password="a-long-password",
        provision_now=True,
    )


@pytest.fixture
def operators(settings: Settings) -> list[str]:
    emails = ["ops@customerinfo.test"]
    settings.OPERATOR_EMAILS = emails
    return emails


def test_the_return_page_makes_the_shop_under_a_variant_and_says_so(
    billing: Billing, operators: list[str], django_capture_on_commit_callbacks: Capture
) -> None:
    back = pay(start(slug="bakery"))
    demo = _operator_takes("bakery")
    public = Client(HTTP_HOST="localhost")
    with django_capture_on_commit_callbacks(execute=True):
        response = public.get(f"/start/done/?session_id={session_of(back)}")
    assert response.status_code == 302
    assert response["Location"].startswith("http://bakery-2.localhost/welcome/")

    signup = TrialSignup.objects.get()
    assert (signup.slug, signup.requested_slug, signup.state) == (
        "bakery-2",
        "bakery",
        "provisioned",
    )
    shop = Tenant.objects.get(slug="bakery-2")
    assert shop.ready
    assert shop.owner_email == "owner@bakery.example"
    account = BillingAccount.objects.get(tenant=shop)
    assert account.status == SubscriptionStatus.TRIALING  # the subscription is the shop's
    assert not BillingAccount.objects.filter(tenant=demo).exists()  # the operator's is untouched

    # The owner lands signed in on the new address, and reads why it is not the one chosen.
    owner = Client(HTTP_HOST="bakery-2.localhost")
    landed = owner.get(response["Location"].removeprefix("http://bakery-2.localhost"))
    assert landed["Location"] == "/"
    home = text_of(owner.get("/"))
    assert "The address bakery.localhost was taken while you were at Checkout" in home
    assert "your shop is at bakery-2.localhost" in home

    # And by email, since a webhook may make the shop with nobody on the page.
    to_owner = [message for message in mail.outbox if message.to == ["owner@bakery.example"]]
    assert len(to_owner) == 1
    assert to_owner[0].subject == "Your CustomerInfo shop is at bakery-2.localhost"
    assert "bakery.localhost, was taken" in str(to_owner[0].body)
    to_operators = [message for message in mail.outbox if message.to == operators]
    assert len(to_operators) == 1
    assert "'bakery-2'" in str(to_operators[0].body)
    # Stripe's dashboard finds the customer under the shop's address.
    customer = billing.client.v1.customers.retrieve(signup.stripe_customer_id)
    assert customer.metadata is not None
    assert customer.metadata.to_dict()["slug"] == "bakery-2"


def test_the_webhook_makes_the_shop_under_a_variant_and_the_return_page_finds_it(
    billing: Billing, django_capture_on_commit_callbacks: Capture
) -> None:
    back = pay(start(slug="bakery"))
    _operator_takes("bakery")
    with django_capture_on_commit_callbacks(execute=True):
        assert set(billing.deliver()) == {200}  # checkout.session.completed, in a worker
    completed = StripeEvent.objects.get(type="checkout.session.completed")
    assert completed.processed_at is not None
    assert completed.error == ""
    shop = Tenant.objects.get(slug="bakery-2")
    assert BillingAccount.objects.get(tenant=shop).status == SubscriptionStatus.TRIALING
    assert [message.to for message in mail.outbox] == [["owner@bakery.example"]]

    # The owner comes back from Checkout after the worker: the same shop, not a third one.
    response = Client(HTTP_HOST="localhost").get(f"/start/done/?session_id={session_of(back)}")
    assert response["Location"].startswith("http://bakery-2.localhost/welcome/")
    assert Tenant.objects.filter(slug__startswith="bakery").count() == 2
    assert services.trial_signup_complete(session_id=session_of(back)) == shop


def test_the_operator_finds_the_sign_up_by_either_address(
    billing: Billing, public_client: Client
) -> None:
    back = pay(start(slug="bakery"))
    _operator_takes("bakery")
    services.trial_signup_complete(session_id=session_of(back))
    operator = User.objects.create_superuser("ops@customerinfo.example", "a-long-password")
    public_client.force_login(operator)
    listed = public_client.get("/admin/billing/trialsignup/?q=bakery")
    assert listed.status_code == 200
    row = text_of(listed).split("owner@bakery.example", 1)[0]
    assert "bakery-2 bakery The Bakery" in row


def test_a_variant_held_by_another_retailer_at_checkout_is_left_to_them(
    billing: Billing,
) -> None:
    back = pay(start(slug="bakery"))
    start(slug="bakery-2", owner_email="someone@else.example")  # at Checkout with bakery-2
    _operator_takes("bakery")
    tenant = services.trial_signup_complete(session_id=session_of(back))
    assert tenant is not None
    assert tenant.slug == "bakery-3"


def test_an_address_lost_at_the_insert_itself_moves_on_to_the_next_variant(
    billing: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two completions racing for the same variant: the address check passes for both, and what
    stands before the row (django-tenants' schema name check, then the unique index) refuses
    the second, which takes the next variant."""
    back = pay(start(slug="bakery"))
    _operator_takes("bakery")
    _operator_takes("bakery-2")
    monkeypatch.setattr(tenant_services, "slug_check", lambda *, slug: slug)  # blind to both
    tenant = services.trial_signup_complete(session_id=session_of(back))
    assert tenant is not None
    assert tenant.slug == "bakery-3"


def test_a_shop_that_cannot_be_made_yet_is_a_page_to_reload_not_an_error(
    billing: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    back = pay(start(slug="bakery"))

    def provisioning_fails(**kwargs: Any) -> Tenant:
        raise RuntimeError("the template schema is being rebuilt")

    public = Client(HTTP_HOST="localhost", raise_request_exception=False)
    with monkeypatch.context() as patch:
        patch.setattr(addresses, "tenant_create", provisioning_fails)
        response = public.get(f"/start/done/?session_id={session_of(back)}")
    assert response.status_code == 503
    assert "your shop is still being set up" in text_of(response)
    assert TrialSignup.objects.get().state == "checkout"  # nothing half made, nothing lost
    # Made as soon as it can be (here: the return page reloaded; the webhook's task retries too).
    again = public.get(f"/start/done/?session_id={session_of(back)}")
    assert again["Location"].startswith("http://bakery.localhost/welcome/")


def test_every_address_taken_is_a_clear_page_and_the_sign_up_waits(
    billing: Billing, monkeypatch: pytest.MonkeyPatch
) -> None:
    back = pay(start(slug="bakery"))
    monkeypatch.setattr(addresses, "address_variants", lambda slug: iter(["bakery"]))
    _operator_takes("bakery")
    response = Client(HTTP_HOST="localhost").get(f"/start/done/?session_id={session_of(back)}")
    assert response.status_code == 503
    assert "Your payment is safe" in text_of(response)
    assert TrialSignup.objects.get().state == "checkout"


def test_variants_are_valid_addresses_even_for_the_longest_ones() -> None:
    longest = "a" * 38 + "-b"
    variants = list(addresses.address_variants(longest))
    assert variants[0] == longest
    assert variants[1] == "a" * 38 + "-2"
    assert len(set(variants)) == len(variants) == 1 + 8 + addresses.RANDOM_VARIANTS
    for variant in variants:
        assert len(variant) <= 40
        assert SLUG_PATTERN.match(variant), variant
    # Cut where a hyphen would end the address: the hyphen goes too.
    assert list(addresses.address_variants("a" * 37 + "-bc"))[1] == "a" * 37 + "-2"
