"""Customers, products and prices: what our catalog sync and sign-up code will rely on."""

from decimal import Decimal
from typing import cast

import pytest
import stripe
from stripe import StripeClient
from stripe.params import PriceCreateParams

from billing.stripe_fake import StripeFake

from .support import Catalog


def test_prices_are_found_by_lookup_key(stripe_client: StripeClient, catalog: Catalog) -> None:
    found = stripe_client.v1.prices.list(
        params={"lookup_keys": ["seat_monthly", "signups_monthly"]}
    )
    assert {p.id for p in found.data} == {catalog.seat.id, catalog.usage.id}
    seat = stripe_client.v1.prices.list(params={"lookup_keys": ["seat_monthly"]}).data[0]
    assert (seat.unit_amount, seat.unit_amount_decimal) == (4900, Decimal(4900))
    assert seat.currency == "usd"
    assert seat.recurring is not None
    assert (seat.recurring.interval, seat.recurring.usage_type) == ("month", "licensed")
    usage = stripe_client.v1.prices.retrieve(catalog.usage.id)
    assert usage.billing_scheme == "tiered"
    assert usage.recurring is not None
    assert usage.recurring.meter == catalog.meter.id
    assert "tiers" not in usage  # Stripe shows tiers only when expanded
    assert stripe_client.v1.prices.list(params={"product": "prod_other"}).data == []


def test_a_lookup_key_is_unique_unless_transferred(
    stripe_client: StripeClient, catalog: Catalog
) -> None:
    params: PriceCreateParams = {
        "product": catalog.product.id,
        "currency": "usd",
        "unit_amount": 5900,
        "recurring": {"interval": "month"},
        "lookup_key": "seat_monthly",
    }
    with pytest.raises(stripe.InvalidRequestError, match="already uses that lookup key") as taken:
        stripe_client.v1.prices.create(params=params)
    assert taken.value.param == "lookup_key"

    moved = stripe_client.v1.prices.create(params={**params, "transfer_lookup_key": True})
    found = stripe_client.v1.prices.list(params={"lookup_keys": ["seat_monthly"]}).data
    assert [p.id for p in found] == [moved.id]
    assert stripe_client.v1.prices.retrieve(catalog.seat.id).lookup_key is None


def test_an_archived_price_leaves_the_active_list(
    stripe_client: StripeClient, catalog: Catalog
) -> None:
    stripe_client.v1.prices.update(
        catalog.seat.id, params={"active": False, "metadata": {"v": "1"}}
    )
    active = stripe_client.v1.prices.list(params={"active": True}).data
    assert [p.id for p in active] == [catalog.usage.id]
    assert stripe_client.v1.prices.retrieve(catalog.seat.id).metadata.to_dict() == {"v": "1"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"recurring": {"interval": "month", "usage_type": "metered"}}, "backed by a meter"),
        ({"unit_amount": 1, "unit_amount_decimal": "1"}, "only specify one"),
        ({}, "Missing required param: unit_amount"),
        (
            {
                "billing_scheme": "tiered",
                "tiers_mode": "graduated",
                "tiers": [{"up_to": 10, "unit_amount": 1}],
            },
            "last tier must have up_to=inf",
        ),
        (
            {
                "billing_scheme": "tiered",
                "tiers_mode": "graduated",
                "tiers": [
                    {"up_to": 10, "unit_amount": 1},
                    {"up_to": 5, "unit_amount": 1},
                    {"up_to": "inf", "unit_amount": 1},
                ],
            },
            "ascending",
        ),
    ],
)
def test_a_malformed_price_is_refused(
    stripe_client: StripeClient, catalog: Catalog, extra: dict[str, object], message: str
) -> None:
    params = {"product": catalog.product.id, "currency": "usd", **extra}
    if "recurring" not in params:
        params["recurring"] = {"interval": "month"}
    with pytest.raises(stripe.InvalidRequestError, match=message):
        stripe_client.v1.prices.create(params=cast(PriceCreateParams, params))


def test_a_price_can_bring_its_product(stripe_client: StripeClient) -> None:
    price = stripe_client.v1.prices.create(
        params={"currency": "eur", "unit_amount": 100, "product_data": {"name": "Add-on"}}
    )
    product = stripe_client.v1.products.retrieve(str(price.product))
    assert product.name == "Add-on"
    assert price.type == "one_time"
    assert [p.id for p in stripe_client.v1.products.list(params={"active": True}).data] == [
        product.id
    ]


def test_customers_keep_email_name_address_and_merge_metadata(
    stripe_client: StripeClient, stripe_fake: StripeFake
) -> None:
    customer = stripe_client.v1.customers.create(
        params={
            "email": "owner@alice.example",
            "name": "Alice",
            "address": {"line1": "1 Main St", "city": "Springfield", "country": "US"},
            "metadata": {"tenant": "alice", "plan": "trial"},
        }
    )
    assert customer.address is not None
    assert customer.address.city == "Springfield"
    updated = stripe_client.v1.customers.update(
        customer.id, params={"name": "Alice's Shop", "metadata": {"plan": "", "seats": "2"}}
    )
    assert updated.name == "Alice's Shop"
    assert updated.metadata is not None
    assert updated.metadata.to_dict() == {"tenant": "alice", "seats": "2"}
    update = stripe_fake.events("customer.updated")[-1]
    assert update["data"]["previous_attributes"] == {
        "name": "Alice",
        "metadata": {"tenant": "alice", "plan": "trial"},
    }
    found = stripe_client.v1.customers.list(params={"email": "owner@alice.example"}).data
    assert [c.id for c in found] == [customer.id]


def test_a_customers_default_card_is_one_of_theirs(
    stripe_client: StripeClient, stripe_fake: StripeFake
) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "owner@alice.example"})
    (card,) = stripe_fake.set_card(customer.id, "succeeds")
    again = stripe_client.v1.customers.retrieve(customer.id)
    assert again.invoice_settings is not None
    assert again.invoice_settings.default_payment_method == card["id"]
    method = stripe_client.v1.payment_methods.retrieve(card["id"])
    assert method.card is not None
    assert method.card.last4 == "4242"

    other = stripe_client.v1.customers.create(params={"email": "charlie@charlie.example"})
    with pytest.raises(stripe.InvalidRequestError, match="another customer"):
        stripe_client.v1.customers.update(
            other.id, params={"invoice_settings": {"default_payment_method": card["id"]}}
        )
