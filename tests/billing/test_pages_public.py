"""The public site: pricing, the sign-up form and its live address check, finding one's shop,
coming back from Checkout."""

import pytest
from django.test import Client
from pytest_django import Settings

from billing import services
from billing.models import (
    TrialSignup,
)

from .conftest import Billing
from .pages import form_values, html, public_client, stripe_unreachable, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def public() -> Client:
    return public_client()


# --- the public site -------------------------------------------------------------------------


def test_the_landing_page_shows_the_prices_of_the_catalog(billing: Billing, public: Client) -> None:
    response = public.get("/")
    assert response.status_code == 200
    page = text_of(response)
    assert "Each tablet €15.00 a month" in page
    assert "1,000 a month included, then €0.02 each" in page
    assert "14 days, no card needed" in page
    assert 'href="/start/"' in response.content.decode()


def test_without_a_catalog_the_public_pages_say_prices_are_being_updated(public: Client) -> None:
    landing = public.get("/")
    assert landing.status_code == 200
    assert "Prices are being updated" in text_of(landing)
    start = public.get("/start/")
    assert start.status_code == 200
    assert "Sign-up is not open right now" in text_of(start)
    # A complete form is refused with the reason, and holds no address.
    refused = public.post("/start/", form_values())
    assert refused.status_code == 503
    assert "Sign-up is not open right now" in text_of(refused)
    assert not TrialSignup.objects.exists()


def test_start_shows_each_error_next_to_its_field(public: Client) -> None:
    response = public.post(
        "/start/",
        {"nonce": "n1", "shop_name": "", "slug": "Not Valid", "owner_email": "x", "password": "s"},
    )
    assert response.status_code == 400
    page = html(response)
    for name, error in [
        ("shop_name", "This field is required."),
        ("slug", "Enter a valid “slug”"),
        ("owner_email", "Enter a valid email address."),
        ("password", "at least 10 characters"),
    ]:
        field = page.inputs[name]
        assert field.get("aria-invalid") == "true", name
        assert error in page.described_by(name), name
    # The help stays readable beside the errors, and what was typed (not the password) stays.
    assert "At least 10 characters." in page.described_by("password")
    assert page.inputs["slug"]["value"] == "Not Valid"
    assert page.inputs["owner_email"]["value"] == "x"
    assert page.inputs["password"].get("value", "") == ""
    # The same nonce comes back: sending the corrected form is still the same sign-up.
    assert page.inputs["nonce"]["value"] == "n1"


def test_a_taken_address_is_refused_next_to_the_address_field(
    billing: Billing, public: Client
) -> None:
    response = public.post("/start/", form_values(slug="alice"))
    assert response.status_code == 400
    page = html(response)
    assert page.inputs["slug"].get("aria-invalid") == "true"
    assert "already taken" in page.described_by("slug")
    assert not TrialSignup.objects.exists()


def test_a_good_form_goes_to_checkout_and_sending_it_twice_is_one_sign_up(
    billing: Billing, public: Client
) -> None:
    values = form_values()
    first = public.post("/start/", values)
    assert first.status_code == 302
    assert first["Location"].startswith(f"{billing.fake.url}/checkout/cs_")
    again = public.post("/start/", values)
    assert again["Location"] == first["Location"]
    assert TrialSignup.objects.count() == 1


def test_stripe_unreachable_at_the_start_is_said_not_a_server_error(
    billing: Billing, public: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = settings.STRIPE_API_BASE
    stripe_unreachable(settings, monkeypatch)
    values = form_values()
    response = public.post("/start/", values)
    assert response.status_code == 503
    assert "could not reach our payment provider" in text_of(response)
    page = html(response)
    assert page.inputs["slug"]["value"] == "bakery"  # nothing to type again
    assert page.inputs["nonce"]["value"] == values["nonce"]
    # Stripe is back: sending the form again (its nonce with it) goes on to Checkout.
    settings.STRIPE_API_BASE = api
    services.stripe_client_reset()
    again = public.post("/start/", values)
    assert again.status_code == 302
    assert again["Location"].startswith(f"{billing.fake.url}/checkout/")


def test_checkout_cancelled_says_nothing_was_charged(billing: Billing, public: Client) -> None:
    response = public.get("/start/?cancelled=1")
    assert response.status_code == 200
    assert "nothing was charged" in text_of(response)


@pytest.mark.parametrize(
    ("slug", "answer"),
    [
        ("new-bakery", "✓ new-bakery.localhost is free."),
        ("New-Bakery", "✓ new-bakery.localhost is free."),
        ("alice", "The address “alice” is already taken."),
        ("www", "The address “www” is reserved."),
        ("Not Valid", "Use 1 to 40 lowercase letters"),
        ("-bakery", "Use 1 to 40 lowercase letters"),
        ("", "Use 1 to 40 lowercase letters"),
    ],
)
def test_the_address_check_answers_as_the_retailer_types(
    public: Client, slug: str, answer: str
) -> None:
    response = public.get("/start/address/", {"slug": slug}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    fragment = text_of(response)
    assert fragment.startswith(answer)
    assert "<html" not in response.content.decode()  # a fragment, for the status line


def test_an_address_held_at_checkout_is_taken_for_the_address_check(
    billing: Billing, public: Client
) -> None:
    public.post("/start/", form_values(slug="corner"))
    response = public.get("/start/address/", {"slug": "corner"})
    assert "taken" in text_of(response)


@pytest.mark.parametrize(
    ("path", "target"), [("/login/", "/login/"), ("/password/reset/", "/password/reset/")]
)
def test_find_shop_sends_the_person_to_their_shops_own_page(path: str, target: str) -> None:
    client = Client(HTTP_HOST="localhost:8000")
    assert client.get(path).status_code == 200
    # As the page shows an address, as typed in a hurry, or pasted from an email.
    for typed in [" Alice ", "alice.localhost", "https://Alice.localhost:8000/login/?next=/"]:
        response = client.post(path, {"slug": typed})
        assert response.status_code == 302, typed
        assert response["Location"] == f"http://alice.localhost:8000{target}"


@pytest.mark.parametrize(
    "slug", ["nobody-here", "alice.example", "", "alice.charlie.localhost", "-alice", "a" * 301]
)
def test_find_shop_refuses_an_address_that_is_no_shop(public: Client, slug: str) -> None:
    response = public.post("/login/", {"slug": slug})
    assert response.status_code == 400
    page = html(response)
    assert page.inputs["slug"].get("aria-invalid") == "true"
    assert page.described_by("slug")
    assert "Location" not in response
