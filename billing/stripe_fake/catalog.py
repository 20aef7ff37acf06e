"""Customers, products, prices and test cards.

Prices hold Stripe's catalog rules that our code depends on: ``lookup_key`` is unique across the
account unless ``transfer_lookup_key`` moves it; a metered price must name a billing meter (since
API version 2025-03-31); a tiered price lists its tiers in ascending ``up_to`` ending with
``inf``, and only shows them when expanded (``expand[]=tiers``), as Stripe does.

Test cards stand for Stripe's test card numbers: ``succeeds`` (4242…), ``declines`` (4000 0000
0000 0341: it attaches, every charge fails) and ``requires_authentication`` (4000 0027 6000
3184: charges with the customer present pass 3-D Secure, charges without them need action).
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from .events import emit, observed
from .params import Params, metadata_merge
from .state import Json, Store, StripeError, invalid, new_id

CARD_BEHAVIOURS = ("succeeds", "declines", "requires_authentication")
_LAST4 = {"succeeds": "4242", "declines": "0341", "requires_authentication": "3184"}
ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")


def address_from(params: Params | None) -> Json | None:
    if params is None:
        return None
    params.only(ADDRESS_FIELDS)
    return {key: params.text(key) for key in ADDRESS_FIELDS}


# --- customers -------------------------------------------------------------------------------

CUSTOMER_FIELDS = ("email", "name", "address", "metadata", "description", "phone")


def customer_create(store: Store, params: Params) -> Json:
    params.only((*CUSTOMER_FIELDS, "invoice_settings"))
    customer: Json = {
        "id": new_id("cus"),
        "object": "customer",
        "address": address_from(params.sub("address")),
        "balance": 0,
        "created": store.now,
        "currency": None,
        "default_source": None,
        "delinquent": False,
        "description": params.text("description"),
        "email": params.text("email"),
        "invoice_prefix": None,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": params.metadata() or {},
        "name": params.text("name"),
        "phone": params.text("phone"),
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }
    store.add(customer)
    _set_default_card(store, customer, params)
    emit(store, "customer.created", customer)
    return customer


def _set_default_card(store: Store, customer: Json, params: Params) -> None:
    settings = params.sub("invoice_settings")
    if settings is None:
        return
    settings.only(("default_payment_method",))
    pm_id = settings.text("default_payment_method")
    if pm_id is not None:
        card = store.require(
            pm_id,
            "payment_method",
            "PaymentMethod",
            param=settings.name("default_payment_method"),
        )
        if card["customer"] not in (None, customer["id"]):
            raise invalid(
                "The PaymentMethod belongs to another customer.",
                param=settings.name("default_payment_method"),
            )
        card["customer"] = customer["id"]
    customer["invoice_settings"]["default_payment_method"] = pm_id


def customer_update(store: Store, customer: Json, params: Params) -> Json:
    params.only((*CUSTOMER_FIELDS, "invoice_settings"))
    with observed(store, customer, "customer.updated"):
        for key in ("email", "name", "description", "phone"):
            if params.has(key):
                customer[key] = params.text(key)
        if params.has("address"):
            customer["address"] = address_from(params.sub("address"))
        customer["metadata"] = metadata_merge(customer["metadata"], params.metadata())
        _set_default_card(store, customer, params)
    return customer


# --- test cards ------------------------------------------------------------------------------


def card_create(store: Store, *, customer_id: str | None, behaviour: str, name: str | None) -> Json:
    if behaviour not in CARD_BEHAVIOURS:
        raise invalid(f"Unknown test card: {behaviour}", param="card")
    card: Json = {
        "id": new_id("pm"),
        "object": "payment_method",
        "billing_details": {"address": None, "email": None, "name": name, "phone": None},
        "card": {
            "brand": "visa",
            "country": "US",
            "exp_month": 12,
            "exp_year": 2040,
            "funding": "credit",
            "last4": _LAST4[behaviour],
        },
        "created": store.now,
        "customer": customer_id,
        "livemode": False,
        "metadata": {},
        "type": "card",
        "_behaviour": behaviour,
    }
    return store.add(card)


def card_set_default(store: Store, customer: Json, behaviour: str) -> Json:
    """A new card of ``behaviour`` becomes the customer's default (what the portal does)."""
    card = card_create(
        store, customer_id=customer["id"], behaviour=behaviour, name=customer["name"]
    )
    with observed(store, customer, "customer.updated"):
        customer["invoice_settings"]["default_payment_method"] = card["id"]
    return card


# --- products --------------------------------------------------------------------------------


def product_create(store: Store, params: Params) -> Json:
    params.only(("id", "name", "active", "description", "metadata"))
    product_id = params.text("id") or new_id("prod")
    if product_id in store.objects:
        raise StripeError(
            400,
            f"Product already exists.: '{product_id}'",
            code="resource_already_exists",
            param="id",
        )
    active = params.boolean("active")
    product: Json = {
        "id": product_id,
        "object": "product",
        "active": True if active is None else active,
        "created": store.now,
        "default_price": None,
        "description": params.text("description"),
        "images": [],
        "livemode": False,
        "metadata": params.metadata() or {},
        "name": params.need("name"),
        "type": "service",
        "updated": store.now,
    }
    store.add(product)
    emit(store, "product.created", product)
    return product


# --- prices ----------------------------------------------------------------------------------

PRICE_FIELDS = (
    "currency",
    "product",
    "product_data",
    "unit_amount",
    "unit_amount_decimal",
    "recurring",
    "billing_scheme",
    "tiers",
    "tiers_mode",
    "lookup_key",
    "transfer_lookup_key",
    "nickname",
    "metadata",
    "active",
)


def _decimal(params: Params, key: str) -> Decimal | None:
    value = params.text(key)
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise invalid(f"Invalid decimal: {value}", param=params.name(key)) from None
    if not number.is_finite() or number < 0:
        raise invalid(f"Invalid decimal: {value}", param=params.name(key))
    return number


def _amount(params: Params, key: str) -> tuple[int | None, str | None]:
    """Stripe returns both forms: ``unit_amount`` (int, or null) and ``unit_amount_decimal``."""
    integer = params.integer(key, minimum=0)
    exact = _decimal(params, f"{key}_decimal")
    if integer is not None and exact is not None:
        raise invalid(
            f"You may only specify one of these parameters: {key}, {key}_decimal.",
            param=params.name(key),
        )
    if integer is not None:
        return integer, str(integer)
    if exact is not None:
        return (int(exact) if exact == exact.to_integral_value() else None), str(exact)
    return None, None


def _tiers(params: Params) -> list[Json]:
    tiers: list[Json] = []
    previous = 0
    rows = params.items("tiers")
    if not rows:
        raise invalid("Tiers are required when billing_scheme is tiered.", param="tiers")
    for index, row in enumerate(rows):
        row.only(
            ("up_to", "unit_amount", "unit_amount_decimal", "flat_amount", "flat_amount_decimal")
        )
        last = index == len(rows) - 1
        up_to_raw = row.need("up_to")
        if up_to_raw == "inf":
            if not last:
                raise invalid("Only the last tier may have up_to=inf.", param=row.name("up_to"))
            up_to: int | None = None
        else:
            up_to = row.integer("up_to", minimum=1)
            if last:
                raise invalid("The last tier must have up_to=inf.", param=row.name("up_to"))
            if up_to is None or up_to <= previous:
                raise invalid("Tiers must be in ascending order of up_to.", param=row.name("up_to"))
            previous = up_to
        unit, unit_exact = _amount(row, "unit_amount")
        flat, flat_exact = _amount(row, "flat_amount")
        if unit_exact is None and flat_exact is None:
            raise invalid(
                "Each tier needs unit_amount or flat_amount.", param=row.name("unit_amount")
            )
        tiers.append(
            {
                "flat_amount": flat,
                "flat_amount_decimal": flat_exact,
                "unit_amount": unit,
                "unit_amount_decimal": unit_exact,
                "up_to": up_to,
            }
        )
    return tiers


def _recurring(store: Store, params: Params | None) -> Json | None:
    if params is None:
        return None
    params.only(("interval", "interval_count", "usage_type", "meter", "trial_period_days"))
    usage_type = params.text("usage_type", choices=("licensed", "metered")) or "licensed"
    meter = params.text("meter")
    if usage_type == "metered" and meter is None:
        raise invalid(
            "Metered prices must be backed by a meter: pass recurring[meter].",
            param="recurring[meter]",
        )
    if meter is not None:
        if usage_type != "metered":
            raise invalid("Only metered prices may name a meter.", param="recurring[meter]")
        store.require(meter, "billing.meter", "billing meter", param="recurring[meter]")
    return {
        "interval": params.need("interval", choices=("day", "week", "month", "year")),
        "interval_count": params.integer("interval_count", minimum=1) or 1,
        "meter": meter,
        "trial_period_days": params.integer("trial_period_days", minimum=1),
        "usage_type": usage_type,
    }


def _claim_lookup_key(store: Store, price: Json, key: str | None, transfer: bool) -> None:
    if key is None:
        return
    holder = next((p for p in store.all("price") if p.get("lookup_key") == key), None)
    if holder is not None and holder is not price:
        if not transfer:
            raise invalid(
                f"A price (`{holder['id']}`) already uses that lookup key.", param="lookup_key"
            )
        with observed(store, holder, "price.updated"):
            holder["lookup_key"] = None
    price["lookup_key"] = key


def price_create(store: Store, params: Params) -> Json:
    params.only(PRICE_FIELDS)
    product_id = params.text("product")
    product_data = params.sub("product_data")
    if (product_id is None) == (product_data is None):
        raise invalid("Pass exactly one of product or product_data.", param="product")
    if product_data is not None:
        product_id = product_create(store, product_data)["id"]
    else:
        store.require(str(product_id), "product", "product", param="product")
    scheme = params.text("billing_scheme", choices=("per_unit", "tiered")) or "per_unit"
    unit, unit_exact = _amount(params, "unit_amount")
    price: Json = {
        "id": new_id("price"),
        "object": "price",
        "active": params.boolean("active") is not False,
        "billing_scheme": scheme,
        "created": store.now,
        "currency": params.need("currency").lower(),
        "livemode": False,
        "lookup_key": None,
        "metadata": params.metadata() or {},
        "nickname": params.text("nickname"),
        "product": product_id,
        "recurring": _recurring(store, params.sub("recurring")),
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": unit,
        "unit_amount_decimal": unit_exact,
    }
    price["type"] = "recurring" if price["recurring"] else "one_time"
    if scheme == "tiered":
        if unit_exact is not None:
            raise invalid("Tiered prices take their amounts from tiers.", param="unit_amount")
        price["tiers_mode"] = params.need("tiers_mode", choices=("graduated", "volume"))
        price["_tiers"] = _tiers(params)
    elif unit_exact is None:
        raise StripeError(
            400,
            "Missing required param: unit_amount.",
            code="parameter_missing",
            param="unit_amount",
        )
    _claim_lookup_key(
        store, price, params.text("lookup_key"), params.boolean("transfer_lookup_key") or False
    )
    store.add(price)
    emit(store, "price.created", price)
    return price


def price_update(store: Store, price: Json, params: Params) -> Json:
    params.only(("active", "metadata", "nickname", "lookup_key", "transfer_lookup_key"))
    with observed(store, price, "price.updated"):
        active = params.boolean("active")
        if active is not None:
            price["active"] = active
        if params.has("nickname"):
            price["nickname"] = params.text("nickname")
        price["metadata"] = metadata_merge(price["metadata"], params.metadata())
        if params.has("lookup_key"):
            key = params.text("lookup_key")
            if key is None:
                price["lookup_key"] = None
            _claim_lookup_key(store, price, key, params.boolean("transfer_lookup_key") or False)
    return price


def price_filter(store: Store, params: Params) -> list[Json]:
    params.only(("active", "lookup_keys", "product", "type", "limit", "starting_after"))
    prices = store.all("price")
    active = params.boolean("active")
    keys = params.strings("lookup_keys")
    product = params.text("product")
    kind = params.text("type")
    rules: list[tuple[str, Any]] = [("active", active), ("product", product), ("type", kind)]
    for field_name, wanted in rules:
        if wanted is not None:
            prices = [p for p in prices if p[field_name] == wanted]
    if keys:
        prices = [p for p in prices if p["lookup_key"] in keys]
    return prices
