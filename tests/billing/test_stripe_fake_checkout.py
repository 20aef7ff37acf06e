"""Checkout, driven as a browser drives it: GET the hosted page, POST its form, follow 303s."""

import re
from typing import Any, cast

import pytest
import stripe
from stripe import StripeClient
from stripe.params.checkout import SessionCreateParams

from billing.stripe_fake import StripeFake

from .support import DAY, Catalog, browser, checkout, session_create, types


def test_a_session_points_at_the_hosted_page_with_an_accessible_form(
    stripe_client: StripeClient, catalog: Catalog
) -> None:
    session = session_create(stripe_client, catalog, billing_address_collection="required")
    assert session.status == "open"
    assert session.url is not None
    page = browser().get(session.url)
    assert page.status_code == 200
    html = page.text
    assert '<html lang="en">' in html
    assert "Free for 14 days" in html
    for field in ("email", "name", "line1", "city", "postal_code", "country"):
        assert f'<label for="{field}">' in html
        assert f'id="{field}" name="{field}"' in html
    assert "<legend>Test card</legend>" in html
    assert set(re.findall(r'name="card" id="card-(\w+)"', html)) == {
        "succeeds",
        "declines",
        "requires_authentication",
    }
    assert '<a href="http://app.test/billing">Cancel and go back</a>' in html
    assert not re.search(r"<script|<link|src=|@import", html)  # no external assets


def test_submitting_completes_the_session_once(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    session = session_create(stripe_client, catalog, metadata={"tenant": "alice"})
    assert session.url is not None
    form = {"card": "succeeds", "name": "Alice Owner"}
    first = browser().post(session.url, data=form)
    second = browser().post(session.url, data=form)

    expected = f"http://app.test/billing/done?session={session.id}"
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"] == expected
    done = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert (done.status, done.payment_status) == ("complete", "no_payment_required")
    assert done.client_reference_id == "tenant-alice"
    assert done.customer_details is not None
    assert done.customer_details.email == "owner@alice.example"
    assert len(stripe_client.v1.customers.list().data) == 1
    assert len(stripe_client.v1.subscriptions.list().data) == 1
    assert types(stripe_fake, "checkout.") == ["checkout.session.completed"]
    assert types(stripe_fake, "customer.subscription.") == ["customer.subscription.created"]
    completed = stripe_fake.events("checkout.session.completed")[0]["data"]["object"]
    assert completed["subscription"] == done.subscription
    assert completed["metadata"] == {"tenant": "alice"}


def test_the_subscription_trials_with_the_seats_and_usage_it_was_sold(
    stripe_client: StripeClient, catalog: Catalog
) -> None:
    session, sub = checkout(
        stripe_client, catalog, subscription_data={"metadata": {"tenant": "alice"}}
    )
    assert sub.status == "trialing"
    assert sub.trial_end is not None
    assert sub.trial_start is not None
    assert sub.trial_end - sub.trial_start == 14 * DAY
    assert sub.metadata.to_dict() == {"tenant": "alice"}
    seats, usage = sub["items"].data
    assert (seats.price.id, seats.quantity) == (catalog.seat.id, 2)
    assert (usage.price.id, usage.quantity) == (catalog.usage.id, None)
    assert (seats.current_period_start, seats.current_period_end) == (
        sub.trial_start,
        sub.trial_end,
    )
    assert sub.default_payment_method is not None
    first = stripe_client.v1.invoices.retrieve(str(sub.latest_invoice))
    assert (first.status, first.amount_due, first.billing_reason) == (
        "paid",
        0,
        "subscription_create",
    )
    lines = stripe_client.v1.checkout.sessions.line_items.list(session.id).data
    assert [(li.price.id if li.price else None, li.quantity) for li in lines] == [
        (catalog.seat.id, 2),
        (catalog.usage.id, None),
    ]


def test_without_a_trial_the_first_period_is_charged_on_the_page(
    stripe_client: StripeClient, catalog: Catalog
) -> None:
    session = session_create(stripe_client, catalog, trial_days=None)
    assert session.amount_total == 9800
    assert session.url is not None
    declined = browser().post(session.url, data={"card": "declines", "name": "Alice Owner"})
    assert declined.status_code == 400
    assert 'role="alert">Your card was declined' in declined.text
    assert stripe_client.v1.customers.list().data == []

    authenticated = browser().post(
        session.url, data={"card": "requires_authentication", "name": "Alice Owner"}
    )
    assert authenticated.status_code == 303
    done = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert done.payment_status == "paid"
    sub = stripe_client.v1.subscriptions.retrieve(str(done.subscription))
    assert sub.status == "active"
    invoice = stripe_client.v1.invoices.retrieve(str(done.invoice))
    assert (invoice.status, invoice.amount_paid) == ("paid", 9800)


def test_an_existing_customer_and_a_required_address(
    stripe_client: StripeClient, catalog: Catalog
) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "owner@alice.example"})
    params: SessionCreateParams = {
        "mode": "subscription",
        "customer": customer.id,
        "line_items": [{"price": catalog.seat.id, "quantity": 1}],
        "success_url": "http://app.test/done",
        "automatic_tax": {"enabled": True},
    }
    # Tax needs an address, and this customer has none: Stripe refuses unless Checkout may
    # save the one entered there.
    with pytest.raises(stripe.InvalidRequestError, match="customer_update"):
        stripe_client.v1.checkout.sessions.create(params=params)
    session = stripe_client.v1.checkout.sessions.create(
        params={**params, "customer_update": {"address": "auto", "name": "auto"}}
    )
    assert session.url is not None
    page = browser().get(session.url).text
    assert 'name="email"' not in page
    missing = browser().post(session.url, data={"card": "succeeds", "name": "A", "line1": "1 Main"})
    assert missing.status_code == 400
    assert "Enter the billing address: city, postal code, country." in missing.text
    address = {"line1": "1 Main St", "city": "Springfield", "postal_code": "12345", "country": "US"}
    assert (
        browser().post(session.url, data={"card": "succeeds", "name": "A", **address}).status_code
        == 303
    )
    done = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert done.customer == customer.id
    assert [c.id for c in stripe_client.v1.customers.list().data] == [customer.id]
    sub = stripe_client.v1.subscriptions.retrieve(str(done.subscription))
    assert sub.automatic_tax.enabled
    saved = stripe_client.v1.customers.retrieve(customer.id)
    assert saved.address is not None
    assert (saved.address.city, saved.name) == ("Springfield", "A")


def test_no_card_is_offered_only_for_a_trial_with_if_required(
    stripe_client: StripeClient, catalog: Catalog
) -> None:
    always = session_create(stripe_client, catalog)
    assert always.url is not None
    assert 'value="none"' not in browser().get(always.url).text
    refused = browser().post(always.url, data={"card": "none"})
    assert refused.status_code == 400
    assert "Choose one of the test cards." in refused.text

    optional = session_create(stripe_client, catalog, payment_method_collection="if_required")
    assert optional.url is not None
    assert 'value="none"' in browser().get(optional.url).text
    assert browser().post(optional.url, data={"card": "none"}).status_code == 303
    sub = stripe_client.v1.subscriptions.retrieve(
        str(stripe_client.v1.checkout.sessions.retrieve(optional.id).subscription)
    )
    assert (sub.status, sub.default_payment_method) == ("trialing", None)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"line_items": [{"price": "seat", "quantity": 1}, {"price": "usage", "quantity": 1}]},
            "Quantity should not be specified",
        ),
        ({"line_items": [{"price": "seat"}]}, "Quantity is required"),
        ({"customer": "cus_x"}, "only specify one of these parameters: customer, customer_email"),
        ({"success_url": ""}, "Missing required param: success_url"),
        ({"mode": "payment"}, "mode=subscription only"),
    ],
)
def test_a_session_stripe_would_refuse_is_refused(
    stripe_client: StripeClient, catalog: Catalog, params: dict[str, Any], message: str
) -> None:
    prices = {"seat": catalog.seat.id, "usage": catalog.usage.id}
    for item in params.get("line_items", []):
        item["price"] = prices[item["price"]]
    base: dict[str, Any] = {
        "mode": "subscription",
        "customer_email": "owner@alice.example",
        "line_items": [{"price": catalog.seat.id, "quantity": 1}],
        "success_url": "http://app.test/done",
    }
    with pytest.raises(stripe.InvalidRequestError, match=message):
        stripe_client.v1.checkout.sessions.create(params=cast(SessionCreateParams, base | params))


def test_a_session_expires_after_24_hours_or_on_request(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    waiting = session_create(stripe_client, catalog)
    dropped = session_create(stripe_client, catalog)
    stripe_client.v1.checkout.sessions.expire(dropped.id)
    stripe_fake.advance(DAY + 1)
    assert stripe_client.v1.checkout.sessions.retrieve(waiting.id).status == "expired"
    assert waiting.url is not None
    late = browser().post(waiting.url, data={"card": "succeeds", "name": "A"})
    assert late.status_code == 400
    assert "expired" in late.text
    assert types(stripe_fake, "checkout.") == ["checkout.session.expired"] * 2
    listed = stripe_client.v1.checkout.sessions.list(params={"status": "expired"}).data
    assert {s.id for s in listed} == {waiting.id, dropped.id}
    assert browser().get(f"{stripe_fake.url}/checkout/cs_test_unknown").status_code == 404
