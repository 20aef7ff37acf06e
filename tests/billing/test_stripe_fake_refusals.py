"""Requests Stripe refuses, refused the same way: 400 with the parameter named, nothing changed.

Sent as raw form posts, as stripe-python would encode them, so each row reads as the request.
"""

from typing import Any

import pytest
import stripe
from stripe import StripeClient

from billing.stripe_fake import StripeFake

from .support import Catalog, browser, checkout

KEY = ("sk_test_refusals", "")


@pytest.mark.parametrize(
    "case",
    [
        ("/v1/prices", {"currency": "usd", "unit_amount": "1"}, "product", "exactly one of"),
        (
            "/v1/prices",
            {"product": "{product}", "currency": "usd", "unit_amount": "1.5"},
            "unit_amount",
            "Invalid integer: 1.5",
        ),
        (
            "/v1/prices",
            {"product": "{product}", "currency": "usd", "unit_amount_decimal": "-1"},
            "unit_amount_decimal",
            "Invalid decimal",
        ),
        (
            "/v1/prices",
            {"product": "{product}", "currency": "usd", "unit_amount_decimal": "abc"},
            "unit_amount_decimal",
            "Invalid decimal",
        ),
        (
            "/v1/prices",
            {
                "product": "{product}",
                "currency": "usd",
                "billing_scheme": "tiered",
                "tiers_mode": "volume",
            },
            "tiers",
            "Tiers are required",
        ),
        (
            "/v1/prices",
            {
                "product": "{product}",
                "currency": "usd",
                "billing_scheme": "tiered",
                "tiers_mode": "graduated",
                "unit_amount": "5",
                "tiers[0][up_to]": "inf",
                "tiers[0][unit_amount]": "1",
            },
            "unit_amount",
            "take their amounts from tiers",
        ),
        (
            "/v1/prices",
            {
                "product": "{product}",
                "currency": "usd",
                "billing_scheme": "tiered",
                "tiers_mode": "graduated",
                "tiers[0][up_to]": "inf",
                "tiers[0][unit_amount]": "1",
                "tiers[1][up_to]": "inf",
                "tiers[1][unit_amount]": "1",
            },
            "tiers[0][up_to]",
            "Only the last tier",
        ),
        (
            "/v1/prices",
            {
                "product": "{product}",
                "currency": "usd",
                "billing_scheme": "tiered",
                "tiers_mode": "graduated",
                "tiers[0][up_to]": "inf",
            },
            "tiers[0][unit_amount]",
            "Each tier needs",
        ),
        (
            "/v1/prices",
            {
                "product": "{product}",
                "currency": "usd",
                "unit_amount": "1",
                "recurring[interval]": "month",
                "recurring[meter]": "{meter}",
            },
            "recurring[meter]",
            "Only metered prices",
        ),
        ("/v1/products", {"id": "{product}", "name": "Again"}, "id", "already exists"),
        (
            "/v1/billing/meters",
            {"display_name": "X", "event_name": "x"},
            "default_aggregation",
            "Missing",
        ),
        (
            "/v1/billing/meter_events",
            {"event_name": "signups"},
            "payload",
            "Missing required param",
        ),
        (
            "/v1/billing/meter_events",
            {
                "event_name": "signups",
                "payload[stripe_customer_id]": "cus_x",
                "identifier": "i" * 101,
            },
            "identifier",
            "at most 100",
        ),
        ("/v1/subscriptions", {"customer": "{customer}"}, "items", "At least one item"),
        (
            "/v1/subscriptions",
            {"customer": "{customer}", "items[0][price]": "{seat}", "trial_end": "1"},
            "trial_end",
            "must be in the future",
        ),
        (
            "/v1/subscriptions",
            {
                "customer": "{customer}",
                "items[0][price]": "{seat}",
                "trial_end": "1",
                "trial_period_days": "3",
            },
            "trial_end",
            "only specify one of trial_end",
        ),
        (
            "/v1/subscriptions",
            {"customer": "{customer}", "items[0][price]": "{archived}"},
            "items[0][price]",
            "active recurring price",
        ),
        (
            "/v1/subscriptions",
            {"customer": "{customer}", "items[0][price]": "{seat}", "items[1][price]": "{euro}"},
            "items[1][price]",
            "one currency",
        ),
        (
            "/v1/subscriptions",
            {
                "customer": "{customer}",
                "items[0][price]": "{seat}",
                "default_payment_method": "pm_x",
            },
            "default_payment_method",
            "No such PaymentMethod",
        ),
        (
            "/v1/checkout/sessions/{session}/expire",
            {},
            None,
            "Only open sessions can be expired",
        ),
        ("/v1/invoices/{invoice}/finalize", {}, None, "already finalized"),
        ("/v1/invoices/create_preview", {"customer": "{customer}"}, None, "No upcoming invoices"),
        (
            "/v1/subscriptions/{subscription}",
            {"default_payment_method": "{card}"},
            "default_payment_method",
            "attached",
        ),
        ("/v1/subscriptions/{subscription}", {"trial_end": "5"}, "trial_end", "future time"),
        (
            "/v1/subscriptions/{subscription}",
            {"items[0][id]": "si_x"},
            "items[0][id]",
            "No such subscription item",
        ),
        (
            "/v1/subscriptions/{subscription}/resume",
            {"billing_cycle_anchor[type]": "later"},
            "billing_cycle_anchor[type]",
            "one of",
        ),
        (
            "/v1/customers",
            {"email": "a@b.c", "address[planet]": "Mars"},
            "address[planet]",
            "unknown",
        ),
    ],
)
def test_a_request_stripe_would_refuse_is_refused(
    stripe_fake: StripeFake,
    stripe_client: StripeClient,
    catalog: Catalog,
    case: tuple[str, dict[str, str], str | None, str],
) -> None:
    path, form, param, message = case
    names = _objects(stripe_fake, stripe_client, catalog)
    answer = browser().post(
        stripe_fake.url + path.format(**names),
        data={k: v.format(**names) for k, v in form.items()},
        auth=KEY,
    )
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert message in error["message"]
    if param is not None:
        assert error["param"] == param


def _objects(fake: StripeFake, client: StripeClient, catalog: Catalog) -> dict[str, Any]:
    """A customer with a trialing subscription and a finalized invoice, plus odd prices."""
    session, sub = checkout(client, catalog)
    other = client.v1.customers.create(params={"email": "charlie@charlie.example"})
    (card,) = fake.set_card(other.id, "succeeds")
    archived = client.v1.prices.create(
        params={
            "product": catalog.product.id,
            "currency": "usd",
            "unit_amount": 1,
            "recurring": {"interval": "month"},
            "active": False,
        }
    )
    euro = client.v1.prices.create(
        params={
            "product": catalog.product.id,
            "currency": "eur",
            "unit_amount": 1,
            "recurring": {"interval": "month"},
        }
    )
    return {
        "product": catalog.product.id,
        "meter": catalog.meter.id,
        "seat": catalog.seat.id,
        "customer": other.id,
        "card": card["id"],
        "archived": archived.id,
        "euro": euro.id,
        "session": session.id,
        "subscription": sub.id,
        "invoice": str(sub.latest_invoice),
    }


def test_list_limits_and_cursors_are_checked(stripe_client: StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError, match="between 1 and 100"):
        stripe_client.v1.customers.list(params={"limit": 101})
    with pytest.raises(stripe.InvalidRequestError, match="No such object: 'cus_gone'"):
        stripe_client.v1.customers.list(params={"starting_after": "cus_gone"})


def test_a_hosted_form_needs_an_email_and_a_name(
    stripe_client: StripeClient, catalog: Catalog
) -> None:
    session = stripe_client.v1.checkout.sessions.create(
        params={
            "mode": "subscription",
            "line_items": [{"price": catalog.seat.id, "quantity": 1}],
            "success_url": "http://app.test/done",
            "subscription_data": {"trial_period_days": 3},
        }
    )
    assert session.url is not None
    no_email = browser().post(session.url, data={"card": "succeeds", "name": "A"})
    assert "Enter the email address" in no_email.text
    no_name = browser().post(session.url, data={"card": "succeeds", "email": "a@alice.example"})
    assert "Enter the name on the card" in no_name.text
    done = browser().post(
        session.url, data={"card": "succeeds", "email": "a@alice.example", "name": "A"}
    )
    assert done.status_code == 303
