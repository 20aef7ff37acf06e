"""Changing a running subscription: seats, prices, collection pauses, the trial, and previews.

A seat change mid-period is prorated as Stripe does it: one line crediting the old seats and one
charging the new, each for the fraction of the period left. ``proration_behavior`` decides
where they go: ``create_prorations`` (default) onto the next invoice, ``always_invoice`` onto an
invoice charged now, ``none`` nowhere. Trial periods are free, so changes during a trial prorate
nothing. ``POST /v1/invoices/create_preview`` answers what the next invoice will be, with the
changes it is asked about applied to a copy.
"""

import copy

from .events import observed
from .invoices import finalize, invoice_draft, invoice_new
from .params import Params, metadata_merge
from .payments import attempt
from .pricing import proration_lines, shift
from .state import Json, Store, invalid, new_id
from .subscriptions import end_trial, is_metered, period, seat_lines, usage_lines

PRORATIONS = ("create_prorations", "none", "always_invoice")
LIST_STATUSES = (
    "active",
    "all",
    "canceled",
    "ended",
    "incomplete",
    "incomplete_expired",
    "past_due",
    "paused",
    "trialing",
    "unpaid",
)
UPDATE_FIELDS = (
    "items",
    "proration_behavior",
    "cancel_at_period_end",
    "metadata",
    "pause_collection",
    "default_payment_method",
    "trial_end",
    "description",
    "cancellation_details",
)


def _item(sub: Json, item_id: str, param: str) -> Json:
    for item in sub["items"]["data"]:
        if item["id"] == item_id:
            found: Json = item
            return found
    raise invalid(f"No such subscription item: '{item_id}'", param=param, code="resource_missing")


def item_change(store: Store, sub: Json, row: Params) -> list[Json]:
    """Applies one ``items[i]`` change; returns the proration lines it earns."""
    row.only(("id", "quantity", "price", "metadata", "deleted", "proration_behavior"))
    item_id = row.text("id")
    if item_id is None or row.boolean("deleted"):
        raise invalid(
            "The Stripe fake changes existing items only (adding or deleting one is not modelled).",
            param=row.name("id"),
        )
    item = _item(sub, item_id, row.name("id"))
    before = (item["price"], item["quantity"])
    price_id = row.text("price")
    if price_id is not None:
        price = store.require(price_id, "price", "price", param=row.name("price"))
        old = item["price"]["recurring"]
        new = price["recurring"]
        if new is None or (new["interval"], new["usage_type"]) != (
            old["interval"],
            old["usage_type"],
        ):
            raise invalid(
                "The new price must recur on the same interval with the same usage type.",
                param=row.name("price"),
            )
        item["price"] = price
    quantity = row.integer("quantity", minimum=0)
    if quantity is not None:
        if is_metered(item):
            raise invalid(
                "Quantity should not be specified where usage_type is `metered`.",
                param=row.name("quantity"),
            )
        item["quantity"] = quantity
    item["metadata"] = metadata_merge(item["metadata"], row.metadata())
    if (
        is_metered(item)
        or sub["status"] == "trialing"
        or before == (item["price"], item["quantity"])
    ):
        return []
    return proration_lines(
        store, sub=sub, item=item, before=before, now=store.now, period=period(sub)
    )


def _pause_collection(params: Params) -> Json | None:
    pause = params.sub("pause_collection")
    if pause is None:
        return None
    pause.only(("behavior", "resumes_at"))
    return {
        "behavior": pause.need("behavior", choices=("keep_as_draft", "mark_uncollectible", "void")),
        "resumes_at": pause.integer("resumes_at"),
    }


def _card(store: Store, sub: Json, pm_id: str | None) -> str | None:
    if pm_id is not None:
        card = store.require(
            pm_id, "payment_method", "PaymentMethod", param="default_payment_method"
        )
        if card["customer"] != sub["customer"]:
            raise invalid(
                "The PaymentMethod must be attached to the subscription's customer.",
                param="default_payment_method",
            )
    return pm_id


def update(store: Store, sub: Json, params: Params) -> Json:
    params.only(UPDATE_FIELDS)
    if sub["status"] in ("canceled", "incomplete_expired") and set(params.data) - {
        "metadata",
        "cancellation_details",
        "expand",
    }:
        raise invalid(
            "A canceled subscription can only update its cancellation_details and metadata."
        )
    behaviour = params.text("proration_behavior", choices=PRORATIONS) or "create_prorations"
    trial_end = params.text("trial_end")
    lines: list[Json] = []
    with observed(store, sub, "customer.subscription.updated"):
        sub["metadata"] = metadata_merge(sub["metadata"], params.metadata())
        if params.has("description"):
            sub["description"] = params.text("description")
        cancel_at_end = params.boolean("cancel_at_period_end")
        if cancel_at_end is not None:
            sub["cancel_at_period_end"] = cancel_at_end
        if params.has("pause_collection"):
            sub["pause_collection"] = _pause_collection(params)
        if params.has("default_payment_method"):
            sub["default_payment_method"] = _card(store, sub, params.text("default_payment_method"))
        for row in params.items("items"):
            lines += item_change(store, sub, row)
        if trial_end not in (None, "now"):
            _extend_trial(sub, params)
    _bill(store, sub, lines, behaviour)
    if trial_end == "now":
        if sub["status"] != "trialing":
            raise invalid("Only a trialing subscription can end its trial.", param="trial_end")
        sub["trial_end"] = store.now
        end_trial(store, sub)
    return sub


def _extend_trial(sub: Json, params: Params) -> None:
    new_end = params.integer("trial_end")
    if sub["status"] != "trialing" or new_end is None or new_end <= sub["trial_start"]:
        raise invalid(
            "trial_end must be a future time on a trialing subscription.", param="trial_end"
        )
    sub["trial_end"] = sub["billing_cycle_anchor"] = new_end
    for item in sub["items"]["data"]:
        item["current_period_end"] = new_end
    sub["_warned"] = False


def _bill(store: Store, sub: Json, lines: list[Json], behaviour: str) -> None:
    if not lines or behaviour == "none":
        return
    if behaviour == "create_prorations":
        sub["_pending"] = sub["_pending"] + lines
        return
    # Invoicing now takes what earlier changes left pending too, as Stripe's pending items do.
    lines, sub["_pending"] = sub["_pending"] + lines, []
    invoice = invoice_new(
        store, sub, reason="subscription_update", period=(store.now, store.now), lines=lines
    )
    finalize(store, invoice)
    if invoice["status"] == "open":
        attempt(store, invoice, automatic=True)


def item_update(store: Store, sub: Json, item_id: str, params: Params) -> Json:
    """``POST /v1/subscription_items/{id}``: the same change as through the subscription."""
    params.only(("quantity", "price", "metadata", "proration_behavior"))
    row = {k: v for k, v in params.data.items() if k in ("quantity", "price", "metadata")}
    update(
        store,
        sub,
        Params(
            {
                "items": [{**row, "id": item_id}],
                "proration_behavior": params.text("proration_behavior", choices=PRORATIONS)
                or "create_prorations",
            }
        ),
    )
    return _item(sub, item_id, "id")


def _subscription_for_preview(store: Store, params: Params) -> Json:
    sub_id = params.text("subscription")
    if sub_id is not None:
        return store.require(sub_id, "subscription", "subscription", param="subscription")
    customer_id = params.need("customer")
    store.require(customer_id, "customer", "customer", param="customer")
    live = [
        s
        for s in store.all("subscription")
        if s["customer"] == customer_id and s["status"] not in ("canceled", "incomplete_expired")
    ]
    if not live:
        raise invalid(
            f"No upcoming invoices for customer: {customer_id}", code="invoice_upcoming_none"
        )
    return live[0]


def preview(store: Store, params: Params) -> Json:
    """The next invoice the subscription will get, with ``subscription_details`` applied."""
    params.only(("customer", "subscription", "subscription_details", "preview_mode"))
    live = _subscription_for_preview(store, params)
    if live["status"] in ("canceled", "incomplete_expired", "paused"):
        raise invalid(
            f"No upcoming invoices for customer: {live['customer']}", code="invoice_upcoming_none"
        )
    sub = copy.deepcopy(live)
    lines: list[Json] = []
    details = params.sub("subscription_details")
    if details is not None:
        details.only(("items", "proration_behavior", "cancel_at_period_end"))
        behaviour = details.text("proration_behavior", choices=PRORATIONS) or "create_prorations"
        for row in details.items("items"):
            lines += item_change(store, sub, row)
        lines = [] if behaviour == "none" else lines
        sub["cancel_at_period_end"] = (
            details.boolean("cancel_at_period_end") or sub["cancel_at_period_end"]
        )
    current = period(sub)
    lines += sub["_pending"]
    if sub["status"] == "trialing":
        recurring = sub["items"]["data"][0]["price"]["recurring"]
        following = (
            current[1],
            shift(current[1], recurring["interval"], recurring["interval_count"]),
        )
        lines += seat_lines(store, sub, following)
    else:
        lines += usage_lines(store, sub, current)
        if not sub["cancel_at_period_end"]:
            recurring = sub["items"]["data"][0]["price"]["recurring"]
            following = (
                current[1],
                shift(current[1], recurring["interval"], recurring["interval_count"]),
            )
            lines += seat_lines(store, sub, following)
    invoice = invoice_draft(
        store,
        sub,
        reason="upcoming",
        period=current,
        lines=lines,
        invoice_id="upcoming_" + new_id("in"),
    )
    invoice["created"] = current[1]
    return invoice


def _listed_status(wanted: str | None, status: str) -> bool:
    """Stripe's rule: no status lists all but the canceled; ``ended`` the canceled and expired."""
    if wanted is None:
        return status != "canceled"
    if wanted == "ended":
        return status in ("canceled", "incomplete_expired")
    return wanted in ("all", status)


def subscription_filter(store: Store, params: Params) -> list[Json]:
    params.only(("customer", "status", "price", "limit", "starting_after"))
    subs = store.all("subscription")
    customer = params.text("customer")
    if customer is not None:
        subs = [s for s in subs if s["customer"] == customer]
    wanted = params.text("status", choices=LIST_STATUSES)
    subs = [s for s in subs if _listed_status(wanted, s["status"])]
    price = params.text("price")
    if price is not None:
        subs = [s for s in subs if any(i["price"]["id"] == price for i in s["items"]["data"])]
    return subs
