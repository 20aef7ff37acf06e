"""Billing periods, what a price costs for a quantity, and the invoice lines that say so.

Periods follow Stripe's calendar rule: a monthly subscription anchored on 31 January renews on
28 (or 29) February, then 31 March; each boundary is computed from the anchor, never from the
previous boundary, so short months do not drift the cycle.

Amounts are computed exactly (``Decimal``, so ``unit_amount_decimal`` like ``0.25`` cents adds up
without float error) and rounded half-up to a whole cent once per line. Graduated tiers charge
each unit at the price of the tier it falls in, plus each reached tier's flat fee; volume tiers
charge every unit at the price of the tier the total reaches.
"""

import calendar
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from .metering import usage
from .state import DAY, Json, Store, new_id

#: Stripe writes "2 <multiplication sign> Pro (at 49.00 USD / month)".
TIMES = "\N{MULTIPLICATION SIGN}"


def shift(anchor: int, interval: str, count: int) -> int:
    """``anchor`` moved by ``count`` intervals (day, week, month or year)."""
    if interval == "day":
        return anchor + count * DAY
    if interval == "week":
        return anchor + count * 7 * DAY
    months = count * (12 if interval == "year" else 1)
    start = datetime.fromtimestamp(anchor, UTC)
    years, month_index = divmod(start.month - 1 + months, 12)
    year, month = start.year + years, month_index + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def cost(price: Json, quantity: Decimal) -> Decimal:
    """The exact amount, in cents, ``quantity`` units of ``price`` cost."""
    if price["billing_scheme"] == "per_unit":
        return quantity * Decimal(price["unit_amount_decimal"])
    tiers: list[Json] = price["_tiers"]
    if price["tiers_mode"] == "volume":
        tier = next(t for t in tiers if t["up_to"] is None or quantity <= t["up_to"])
        return _tier_cost(tier, quantity) if quantity > 0 else Decimal(0)
    total, floor = Decimal(0), Decimal(0)
    for tier in tiers:
        ceiling = quantity if tier["up_to"] is None else min(quantity, Decimal(tier["up_to"]))
        units = ceiling - floor
        if units <= 0:
            break
        total += _tier_cost(tier, units)
        floor = ceiling
    return total


def _tier_cost(tier: Json, units: Decimal) -> Decimal:
    unit = Decimal(tier["unit_amount_decimal"] or 0)
    flat = Decimal(tier["flat_amount_decimal"] or 0)
    return units * unit + flat


def cents(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _quantity(value: Decimal) -> int | Decimal:
    return int(value) if value == value.to_integral_value() else value


def _product_name(store: Store, price: Json) -> str:
    product = store.get(price["product"], "product")
    return str(product["name"] if product else price["product"])


def _money(amount: Decimal, currency: str) -> str:
    return f"{(amount / 100):.2f} {currency.upper()}"


def line(
    store: Store,
    *,
    sub: Json,
    item: Json,
    quantity: int | Decimal,
    amount: int,
    period: tuple[int, int],
    description: str,
    proration: bool = False,
) -> Json:
    price = item["price"]
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": price["currency"],
        "description": description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": None,
        "livemode": False,
        "metadata": {},
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": proration,
                "proration_details": {"credited_items": None},
                "subscription": sub["id"],
                "subscription_item": item["id"],
            },
            "type": "subscription_item_details",
        },
        "period": {"end": period[1], "start": period[0]},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": price["id"], "product": price["product"]},
            "type": "price_details",
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "quantity": quantity,
        "subtotal": amount,
        "taxes": [],
    }


def licensed_line(store: Store, sub: Json, item: Json, period: tuple[int, int]) -> Json:
    """A seat line, charged in advance for ``period``."""
    price, quantity = item["price"], item["quantity"]
    exact = cost(price, Decimal(quantity))
    recurring = price["recurring"] or {}
    every = f" / {recurring['interval']}" if recurring else ""
    unit = _money(Decimal(price["unit_amount_decimal"] or 0), price["currency"])
    description = f"{quantity} {TIMES} {_product_name(store, price)} (at {unit}{every})"
    return line(
        store,
        sub=sub,
        item=item,
        quantity=quantity,
        amount=cents(exact),
        period=period,
        description=description,
    )


def metered_line(
    store: Store, sub: Json, item: Json, period: tuple[int, int], *, up_to_now: bool = False
) -> Json:
    """A usage line, charged in arrears for ``period``; refreshed until the invoice finalizes.

    ``up_to_now``: the period is cut short at this second (cancel with ``invoice_now``), and
    usage stamped this very second still belongs to it.
    """
    made = line(
        store,
        sub=sub,
        item=item,
        quantity=0,
        amount=0,
        period=period,
        description="",
    )
    made["_metered"] = {
        "customer": sub["customer"],
        "meter": item["price"]["recurring"]["meter"],
        "inclusive": up_to_now,
    }
    refresh_metered(store, made, item["price"])
    return made


def refresh_metered(store: Store, made: Json, price: Json) -> None:
    """Recounts a usage line: events reported late, before finalization, still count."""
    meter = store.get(made["_metered"]["meter"], "billing.meter")
    quantity = Decimal(0)
    if meter is not None:
        start, end = made["period"]["start"], made["period"]["end"]
        end += 1 if made["_metered"]["inclusive"] else 0
        quantity = usage(store, meter, made["_metered"]["customer"], start, end)
    amount = cents(cost(price, quantity))
    made["quantity"] = _quantity(quantity)
    made["amount"] = made["subtotal"] = amount
    made["description"] = f"{_quantity(quantity)} {TIMES} {_product_name(store, price)} (usage)"


def proration_lines(
    store: Store,
    *,
    sub: Json,
    item: Json,
    before: tuple[Json, int],
    now: int,
    period: tuple[int, int],
) -> list[Json]:
    """Stripe's two proration lines: credit the old seats, charge the new, for the time left."""
    (old_price, old_quantity) = before
    start, end = period
    if end <= start or now >= end:
        return []
    fraction = Decimal(end - now) / Decimal(end - start)
    on = datetime.fromtimestamp(now, UTC).strftime("%d %b %Y")
    credit = -cents(cost(old_price, Decimal(old_quantity)) * fraction)
    charge = cents(cost(item["price"], Decimal(item["quantity"])) * fraction)
    old_item = {**item, "price": old_price}
    return [
        line(
            store,
            sub=sub,
            item=old_item,
            quantity=old_quantity,
            amount=credit,
            period=(now, end),
            description=f"Unused time on {old_quantity} {TIMES} "
            f"{_product_name(store, old_price)} after {on}",
            proration=True,
        ),
        line(
            store,
            sub=sub,
            item=item,
            quantity=item["quantity"],
            amount=charge,
            period=(now, end),
            description=f"Remaining time on {item['quantity']} {TIMES} "
            f"{_product_name(store, item['price'])} after {on}",
            proration=True,
        ),
    ]
