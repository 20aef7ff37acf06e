"""Subscriptions: how they start, roll from period to period, end their trial, pause and stop.

The billing period lives on the items (``current_period_start``/``_end``), as it does since API
version 2025-03-31; every item of a subscription shares it. Seats (licensed prices) are invoiced
in advance for the period starting, usage (metered prices) in arrears for the period ended;
usage during a trial is free, so the invoice at trial end carries seats only.

The statuses and what moves them:
- ``trialing`` → ``active`` at trial end with a card (or with ``create_invoice``); without a
  card → ``paused`` (``missing_payment_method=pause``) or ``canceled`` (``cancel``);
- ``incomplete`` (first payment not made) → ``active`` when paid, ``incomplete_expired`` after
  23 hours (its invoice voided);
- ``active`` → ``past_due`` → ``unpaid`` by dunning (``payments.py``), back to ``active`` when
  the latest invoice is paid;
- ``paused`` → ``active`` (or ``past_due``) by ``resume``, which bills a new period at once;
- anything → ``canceled`` by ``DELETE`` or at period end with ``cancel_at_period_end``.
"""

from .events import emit, observed
from .invoices import close, finalize, invoice_new, of_subscription, schedule_finalization
from .params import Params
from .payments import SUCCEEDED, attempt, card_error, outcome
from .pricing import licensed_line, metered_line, shift
from .state import HOUR, Json, Store, invalid, new_id

TRIAL_WARNING = 3 * 86_400
INCOMPLETE_EXPIRES = 23 * HOUR
END_BEHAVIOURS = ("pause", "cancel", "create_invoice")


def is_metered(item: Json) -> bool:
    return bool(item["price"]["recurring"]["usage_type"] == "metered")


def parse_items(
    store: Store, rows: list[Params], *, quantity_required: bool
) -> list[tuple[Json, int | None]]:
    """(price, quantity) pairs by Stripe's rules: recurring, active, one currency, one interval."""
    if not rows:
        raise invalid("At least one item is required.", param="items", code="parameter_missing")
    chosen: list[tuple[Json, int | None]] = []
    for row in rows:
        row.only(("price", "quantity"))
        price = store.require(row.need("price"), "price", "price", param=row.name("price"))
        if not price["active"] or price["recurring"] is None:
            raise invalid(
                f"The price `{price['id']}` must be an active recurring price.",
                param=row.name("price"),
            )
        metered = price["recurring"]["usage_type"] == "metered"
        quantity = row.integer("quantity", minimum=0 if not metered else None)
        if metered and quantity is not None:
            raise invalid(
                "Quantity should not be specified where usage_type is `metered`. Remove quantity "
                f"from `{row.prefix}`.",
                param=row.name("quantity"),
            )
        if not metered and quantity is None:
            if quantity_required:
                raise invalid(
                    f"Quantity is required. Add `quantity` to `{row.prefix}`.",
                    param=row.name("quantity"),
                    code="parameter_missing",
                )
            quantity = 1
        first = chosen[0][0] if chosen else price
        same = (
            first["currency"],
            first["recurring"]["interval"],
            first["recurring"]["interval_count"],
        )
        if same != (
            price["currency"],
            price["recurring"]["interval"],
            price["recurring"]["interval_count"],
        ):
            raise invalid(
                "All prices must share one currency and one billing interval.",
                param=row.name("price"),
            )
        chosen.append((price, quantity))
    return chosen


def build(
    store: Store,
    *,
    customer: Json,
    items: list[tuple[Json, int | None]],
    metadata: dict[str, str],
    card_id: str | None,
    end_behaviour: str,
    automatic_tax: bool,
) -> Json:
    """A subscription object, not yet started (no status, period or invoice)."""
    sub_id = new_id("sub")
    made: list[Json] = [
        {
            "id": new_id("si"),
            "object": "subscription_item",
            "created": store.now,
            "current_period_end": 0,
            "current_period_start": 0,
            "discounts": [],
            "metadata": {},
            "price": price,
            "quantity": quantity,
            "subscription": sub_id,
            "tax_rates": [],
        }
        for price, quantity in items
    ]
    sub: Json = {
        "id": sub_id,
        "object": "subscription",
        "application": None,
        "automatic_tax": {"disabled_reason": None, "enabled": automatic_tax, "liability": None},
        "billing_cycle_anchor": store.now,
        "billing_mode": {"type": "flexible"},
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None, "reason": None},
        "collection_method": "charge_automatically",
        "created": store.now,
        "currency": items[0][0]["currency"],
        "customer": customer["id"],
        "days_until_due": None,
        "default_payment_method": card_id,
        "description": None,
        "discounts": [],
        "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": made,
            "has_more": False,
            "total_count": len(made),
            "url": f"/v1/subscription_items?subscription={sub_id}",
        },
        "latest_invoice": None,
        "livemode": False,
        "metadata": metadata,
        "pause_collection": None,
        "pending_update": None,
        "start_date": store.now,
        "status": "incomplete",
        "status_details": None,
        "trial_end": None,
        "trial_settings": {"end_behavior": {"missing_payment_method": end_behaviour}},
        "trial_start": None,
        "_cycle": 0,
        "_pending": [],
        "_warned": False,
    }
    return store.add(sub)


def period(sub: Json) -> tuple[int, int]:
    item = sub["items"]["data"][0]
    return item["current_period_start"], item["current_period_end"]


def _set_period(sub: Json, start: int, end: int) -> None:
    for item in sub["items"]["data"]:
        item["current_period_start"], item["current_period_end"] = start, end


def _cycle(sub: Json, index: int) -> tuple[int, int]:
    recurring = sub["items"]["data"][0]["price"]["recurring"]
    every, count = recurring["interval"], recurring["interval_count"]
    anchor = sub["billing_cycle_anchor"]
    return shift(anchor, every, count * index), shift(anchor, every, count * (index + 1))


def begin_cycle(sub: Json, anchor: int) -> None:
    sub["billing_cycle_anchor"], sub["_cycle"] = anchor, 0
    _set_period(sub, *_cycle(sub, 0))


def next_cycle(sub: Json) -> tuple[int, int]:
    sub["_cycle"] += 1
    _set_period(sub, *_cycle(sub, sub["_cycle"]))
    return period(sub)


def seat_lines(store: Store, sub: Json, span: tuple[int, int]) -> list[Json]:
    return [licensed_line(store, sub, i, span) for i in sub["items"]["data"] if not is_metered(i)]


def usage_lines(
    store: Store, sub: Json, span: tuple[int, int], *, up_to_now: bool = False
) -> list[Json]:
    return [
        metered_line(store, sub, i, span, up_to_now=up_to_now)
        for i in sub["items"]["data"]
        if is_metered(i)
    ]


def start(
    store: Store,
    sub: Json,
    *,
    trial_end: int | None,
    pay: bool,
    customer_present: bool,
) -> None:
    """Starts a built subscription: a trial (free invoice), or a first period charged now."""
    if trial_end is not None:
        if trial_end <= store.now:
            raise invalid("trial_end must be in the future.", param="trial_end")
        sub.update(status="trialing", trial_start=store.now, trial_end=trial_end)
        sub["billing_cycle_anchor"], sub["_cycle"] = trial_end, -1
        _set_period(sub, store.now, trial_end)
        lines = [
            {
                **made,
                "amount": 0,
                "subtotal": 0,
                "description": "Trial period for " + made["description"],
            }
            for made in seat_lines(store, sub, (store.now, trial_end))
        ]
    else:
        begin_cycle(sub, store.now)
        lines = seat_lines(store, sub, period(sub))
    invoice = invoice_new(
        store,
        sub,
        reason="subscription_create",
        period=(store.now, store.now),
        lines=lines,
        announce=False,
    )
    emit(store, "customer.subscription.created", sub)
    emit(store, "invoice.created", invoice)
    finalize(store, invoice)
    if pay and invoice["status"] == "open":
        attempt(store, invoice, customer_present=customer_present)


def end_trial(store: Store, sub: Json) -> None:
    """Trial over: bill the first period, or pause or cancel when no card was given."""
    customer = store.objects[sub["customer"]]
    card = sub["default_payment_method"] or customer["invoice_settings"]["default_payment_method"]
    behaviour = sub["trial_settings"]["end_behavior"]["missing_payment_method"]
    if card is None and behaviour == "cancel":
        cancel(store, sub, reason="cancellation_requested")
        return
    if card is None and behaviour == "pause":
        with observed(store, sub, "customer.subscription.updated"):
            sub["status"] = "paused"
            sub["status_details"] = {
                "paused": {
                    "subscription": {"type": "trial_end_without_payment_method"},
                    "transitioned_at": store.now,
                    "type": "subscription",
                }
            }
        emit(store, "customer.subscription.paused", sub)
        return
    with observed(store, sub, "customer.subscription.updated"):
        sub["status"] = "active"
        begin_cycle(sub, sub["trial_end"])
        invoice = invoice_new(
            store,
            sub,
            reason="subscription_cycle",
            period=(sub["trial_start"], sub["trial_end"]),
            lines=seat_lines(store, sub, period(sub)),
            announce=False,
        )
        schedule_finalization(invoice, store.now)
    emit(store, "invoice.created", invoice)


def renew(store: Store, sub: Json) -> None:
    """Period end: invoice the period ended (usage) and the one starting (seats), or stop."""
    ended = period(sub)
    pending, sub["_pending"] = sub["_pending"], []
    if sub["cancel_at_period_end"]:
        lines = usage_lines(store, sub, ended) + pending
        if lines:
            invoice = invoice_new(
                store, sub, reason="subscription_cycle", period=ended, lines=lines
            )
            finalize(store, invoice)
            if invoice["status"] == "open":
                attempt(store, invoice, automatic=True)
        cancel(store, sub, reason="cancellation_requested")
        return
    with observed(store, sub, "customer.subscription.updated"):
        starting = next_cycle(sub)
        lines = seat_lines(store, sub, starting) + usage_lines(store, sub, ended) + pending
        invoice = invoice_new(
            store, sub, reason="subscription_cycle", period=ended, lines=lines, announce=False
        )
    pause = sub["pause_collection"]
    if sub["status"] == "unpaid" or (pause and pause["behavior"] == "keep_as_draft"):
        # Stripe stops collecting: the draft waits for someone to finalize it by hand.
        invoice["auto_advance"] = False
    else:
        schedule_finalization(invoice, store.now)
    emit(store, "invoice.created", invoice)


def cancel(
    store: Store,
    sub: Json,
    *,
    reason: str | None,
    comment: str | None = None,
    feedback: str | None = None,
) -> None:
    if sub["status"] in ("canceled", "incomplete_expired"):
        raise invalid("This subscription has already been canceled.", code="resource_missing")
    sub.update(
        status="canceled", canceled_at=store.now, ended_at=store.now, cancel_at_period_end=False
    )
    sub["cancellation_details"] = {"comment": comment, "feedback": feedback, "reason": reason}
    for invoice in of_subscription(store, sub["id"]):
        invoice["next_payment_attempt"] = None
        if invoice["status"] == "draft":
            invoice["auto_advance"] = False
    emit(store, "customer.subscription.deleted", sub)


def final_invoice(store: Store, sub: Json) -> None:
    """``invoice_now``: usage and pending prorations billed at once, before the end."""
    start_at, _ = period(sub)
    lines = usage_lines(store, sub, (start_at, store.now), up_to_now=True) + sub["_pending"]
    sub["_pending"] = []
    if not lines:
        return
    invoice = invoice_new(
        store, sub, reason="subscription_cycle", period=(start_at, store.now), lines=lines
    )
    finalize(store, invoice)
    if invoice["status"] == "open":
        attempt(store, invoice, automatic=True)


def expire_incomplete(store: Store, sub: Json) -> None:
    with observed(store, sub, "customer.subscription.updated"):
        sub["status"] = "incomplete_expired"
        sub["ended_at"] = store.now
    for invoice in of_subscription(store, sub["id"]):
        if invoice["status"] == "open":
            close(store, invoice, "void")


def resume(store: Store, sub: Json, params: Params) -> Json:
    """``POST /v1/subscriptions/{id}/resume``, in this API version's shape.

    ``billing_cycle_anchor[type]``: ``now`` (default) starts a new period and bills it at once;
    ``unchanged`` keeps the cycle and bills at its next boundary (no prorations modelled).
    ``payment_behavior``: ``resume_on_payment_attempt`` (default) resumes, then charges, and a
    failure leaves it ``past_due``; ``resume_on_payment_success`` answers the card error and
    leaves it paused when the charge would fail.
    """
    params.only(
        ("billing_cycle_anchor", "proration_behavior", "payment_behavior", "proration_date")
    )
    anchor_params = params.sub("billing_cycle_anchor")
    if anchor_params is not None:
        anchor_params.only(("type",))
    anchor = anchor_params.need("type", choices=("now", "unchanged")) if anchor_params else "now"
    params.text("proration_behavior", choices=("always_invoice", "create_prorations", "none"))
    behaviour = params.text(
        "payment_behavior", choices=("resume_on_payment_attempt", "resume_on_payment_success")
    )
    if sub["status"] != "paused":
        raise invalid("Only a paused subscription can be resumed.", param="subscription")
    if behaviour == "resume_on_payment_success" and anchor == "now":
        customer = store.objects[sub["customer"]]
        card_id = (
            sub["default_payment_method"] or customer["invoice_settings"]["default_payment_method"]
        )
        result = outcome(store.get(card_id or "", "payment_method"), customer_present=False)
        if result != SUCCEEDED:
            raise card_error(result)
    with observed(store, sub, "customer.subscription.updated"):
        sub["status"], sub["status_details"] = "active", None
        if anchor == "now":
            begin_cycle(sub, store.now)
        else:
            while period(sub)[1] <= store.now:
                next_cycle(sub)
    emit(store, "customer.subscription.resumed", sub)
    if anchor == "now":
        invoice = invoice_new(
            store,
            sub,
            reason="subscription_update",
            period=(store.now, store.now),
            lines=seat_lines(store, sub, period(sub)),
        )
        finalize(store, invoice)
        if invoice["status"] == "open":
            attempt(store, invoice, automatic=True)
    return sub
