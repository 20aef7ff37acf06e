"""The catalog in Stripe, made from settings and found again by price lookup keys.

``manage.py billing_sync_catalog`` runs this on every deploy: it finds each price by its lookup
key and creates only what is missing, so a second run changes nothing. When a setting changes
(a new tablet price, another allowance), a new price takes the lookup key over
(``transfer_lookup_key``); subscriptions keep the price they have until moved on purpose.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from stripe import Price
from stripe.params import PriceCreateParams, PriceCreateParamsTier

from ..models import SIGNUPS, TABLETS, CatalogPrice
from .client import stripe_client

METER_EVENT = "customerinfo_signups"
#: Marks our products in Stripe, so that the sync finds them again.
CATALOG_KEY = "customerinfo_catalog"


@dataclass(frozen=True)
class Wanted:
    lookup_key: str
    product_name: str
    unit_amount: int | None
    tiers: list[dict[str, Any]]


def wanted() -> list[Wanted]:
    """The prices the settings describe."""
    return [
        Wanted(TABLETS, "Tablet", settings.BILLING_TABLET_PRICE_CENTS, []),
        Wanted(
            SIGNUPS,
            "Sign-ups",
            None,
            [
                {"up_to": settings.BILLING_INCLUDED_SIGNUPS, "unit_amount_decimal": "0"},
                {"up_to": None, "unit_amount_decimal": settings.BILLING_SIGNUP_PRICE_CENTS},
            ],
        ),
    ]


def _tiers_of(price: Price) -> list[dict[str, Any]]:
    return [
        {"up_to": tier.up_to, "unit_amount_decimal": _decimal(tier.unit_amount_decimal)}
        # Stripe sends tiers only when asked (``expand``), as every call here does.
        for tier in (price.tiers if "tiers" in price else None) or []
    ]


def _decimal(value: Any) -> str:
    """Stripe writes decimals as "2.000000000"; settings as "2"."""
    text = str(value if value is not None else "0")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _matches(price: Price, want: Wanted) -> bool:
    if price.currency != settings.BILLING_CURRENCY or not price.active:
        return False
    if want.tiers:
        return _tiers_of(price) == want.tiers
    return price.unit_amount == want.unit_amount


def _meter_id() -> str:
    client = stripe_client()
    for meter in client.v1.billing.meters.list(params={"status": "active", "limit": 100}).data:
        if meter.event_name == METER_EVENT:
            return meter.id
    meter = client.v1.billing.meters.create(
        params={
            "display_name": "Sign-ups",
            "event_name": METER_EVENT,
            "default_aggregation": {"formula": "sum"},
            "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
            "value_settings": {"event_payload_key": "value"},
        },
        options={"idempotency_key": f"catalog-meter-{METER_EVENT}"},
    )
    return meter.id


def _product_id(want: Wanted) -> str:
    client = stripe_client()
    for product in client.v1.products.list(params={"active": True, "limit": 100}).data:
        if product.metadata and product.metadata.to_dict().get(CATALOG_KEY) == want.lookup_key:
            return product.id
    product = client.v1.products.create(
        params={"name": want.product_name, "metadata": {CATALOG_KEY: want.lookup_key}},
        options={"idempotency_key": f"catalog-product-{want.lookup_key}"},
    )
    return product.id


def _price_create(want: Wanted, *, product_id: str, meter_id: str) -> Price:
    params: PriceCreateParams = {
        "currency": settings.BILLING_CURRENCY,
        "product": product_id,
        "lookup_key": want.lookup_key,
        "transfer_lookup_key": True,
        "expand": ["tiers"],
    }
    if want.tiers:
        params["recurring"] = {"interval": "month", "usage_type": "metered", "meter": meter_id}
        params["billing_scheme"] = "tiered"
        params["tiers_mode"] = "graduated"
        params["tiers"] = [_tier(tier) for tier in want.tiers]
    else:
        params["recurring"] = {"interval": "month", "usage_type": "licensed"}
        params["unit_amount"] = want.unit_amount or 0
    return stripe_client().v1.prices.create(
        params=params,
        options={"idempotency_key": f"catalog-price-{want.lookup_key}-{_fingerprint(want)}"},
    )


def _tier(tier: dict[str, Any]) -> PriceCreateParamsTier:
    up_to = tier["up_to"]
    return {
        "up_to": "inf" if up_to is None else int(up_to),
        "unit_amount_decimal": Decimal(tier["unit_amount_decimal"]),
    }


def _fingerprint(want: Wanted) -> str:
    amounts = want.tiers or want.unit_amount
    return f"{settings.BILLING_CURRENCY}-{amounts}".replace(" ", "")


def catalog_sync() -> list[CatalogPrice]:
    """Finds or makes every price of the catalog; returns them as recorded here."""
    client = stripe_client()
    wants = wanted()
    found = {
        price.lookup_key: price
        for price in client.v1.prices.list(
            params={
                "lookup_keys": [want.lookup_key for want in wants],
                "limit": 100,
                "expand": ["data.tiers"],
            }
        ).data
    }
    meter_id = _meter_id()
    recorded = []
    for want in wants:
        price = found.get(want.lookup_key)
        if price is None or not _matches(price, want):
            price = _price_create(want, product_id=_product_id(want), meter_id=meter_id)
        product = price.product if isinstance(price.product, str) else price.product.id
        row, _ = CatalogPrice.objects.update_or_create(
            lookup_key=want.lookup_key,
            defaults={
                "stripe_price_id": price.id,
                "stripe_product_id": product,
                "stripe_meter_id": meter_id if want.tiers else "",
                "meter_event_name": METER_EVENT if want.tiers else "",
                "currency": price.currency,
                "unit_amount": price.unit_amount,
                "tiers": _tiers_of(price) if want.tiers else [],
            },
        )
        recorded.append(row)
    return recorded
