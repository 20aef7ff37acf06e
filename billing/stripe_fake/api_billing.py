"""The ``/v1`` routes of subscriptions, their items, invoices and events.

Each route reads its parameters and calls one domain function; ``routing`` renders the answer.
"""

from . import changes, invoices, payments, subscriptions
from .params import Params
from .routing import Call, Routes, get_one, listed
from .state import Json, Store, StripeError, invalid

routes = Routes()
route = routes.route


# --- subscriptions ---------------------------------------------------------------------------

SUBSCRIPTION_FIELDS = (
    "customer",
    "items",
    "default_payment_method",
    "trial_period_days",
    "trial_end",
    "trial_settings",
    "metadata",
    "payment_behavior",
    "automatic_tax",
    "cancel_at_period_end",
)


@route("POST", "/v1/subscriptions")
def _subscription_create(call: Call) -> Json:
    store, params = call.store, call.params
    params.only(SUBSCRIPTION_FIELDS)
    customer = store.require(params.need("customer"), "customer", "customer", param="customer")
    items = subscriptions.parse_items(store, params.items("items"), quantity_required=False)
    card_id = params.text("default_payment_method")
    if card_id is not None:
        store.require(card_id, "payment_method", "PaymentMethod", param="default_payment_method")
    behaviour = params.text(
        "payment_behavior",
        choices=("allow_incomplete", "default_incomplete", "error_if_incomplete"),
    )
    trial_end = _trial_end(store, params)
    if behaviour == "error_if_incomplete" and trial_end is None:
        card = store.get(
            card_id or customer["invoice_settings"]["default_payment_method"] or "",
            "payment_method",
        )
        result = payments.outcome(card, customer_present=False)
        if result != payments.SUCCEEDED:
            raise payments.card_error(result)
    tax = params.sub("automatic_tax")
    sub = subscriptions.build(
        store,
        customer=customer,
        items=items,
        metadata=params.metadata() or {},
        card_id=card_id,
        end_behaviour=_end_behaviour(params),
        automatic_tax=bool(tax and tax.boolean("enabled")),
    )
    sub["cancel_at_period_end"] = params.boolean("cancel_at_period_end") or False
    pay = behaviour != "default_incomplete"
    subscriptions.start(store, sub, trial_end=trial_end, pay=pay, customer_present=False)
    return sub


def _trial_end(store: Store, params: Params) -> int | None:
    days = params.integer("trial_period_days", minimum=1)
    end = params.integer("trial_end")
    if days is not None and end is not None:
        raise invalid(
            "You may only specify one of trial_end, trial_period_days.", param="trial_end"
        )
    return store.now + days * 86_400 if days is not None else end


def _end_behaviour(params: Params) -> str:
    settings = params.sub("trial_settings")
    behaviour = settings.sub("end_behavior") if settings else None
    if behaviour is None:
        return "create_invoice"
    return behaviour.need("missing_payment_method", choices=subscriptions.END_BEHAVIOURS)


@route("GET", "/v1/subscriptions")
def _subscription_list(call: Call) -> Json:
    return listed(call, changes.subscription_filter(call.store, call.params), "/v1/subscriptions")


@route("GET", "/v1/subscriptions/{id}")
def _subscriptionget_one(call: Call) -> Json:
    return get_one(call, "subscription", "subscription")


@route("POST", "/v1/subscriptions/{id}")
def _subscription_update(call: Call) -> Json:
    sub = call.store.require(call.args[0], "subscription", "subscription")
    return changes.update(call.store, sub, call.params)


@route("DELETE", "/v1/subscriptions/{id}")
def _subscription_cancel(call: Call) -> Json:
    sub = call.store.require(call.args[0], "subscription", "subscription")
    params = call.params
    params.only(("invoice_now", "prorate", "cancellation_details"))
    if params.boolean("prorate"):
        raise invalid(
            "The Stripe fake does not credit unused time on cancel (prorate=true).", param="prorate"
        )
    details = params.sub("cancellation_details")
    if details is not None:
        details.only(("comment", "feedback"))
    if sub["status"] not in ("canceled", "incomplete_expired") and params.boolean("invoice_now"):
        subscriptions.final_invoice(call.store, sub)
    subscriptions.cancel(
        call.store,
        sub,
        reason="cancellation_requested",
        comment=details.text("comment") if details else None,
        feedback=details.text("feedback") if details else None,
    )
    return sub


@route("POST", "/v1/subscriptions/{id}/resume")
def _subscription_resume(call: Call) -> Json:
    sub = call.store.require(call.args[0], "subscription", "subscription")
    return subscriptions.resume(call.store, sub, call.params)


def _item_owner(store: Store, item_id: str) -> Json:
    for sub in store.all("subscription"):
        if any(item["id"] == item_id for item in sub["items"]["data"]):
            return sub
    raise StripeError(
        404, f"No such subscription item: '{item_id}'", code="resource_missing", param="id"
    )


@route("GET", "/v1/subscription_items")
def _item_list(call: Call) -> Json:
    call.params.only(("subscription", "limit", "starting_after"))
    sub_id = call.params.need("subscription")
    sub = call.store.require(sub_id, "subscription", "subscription", param="subscription")
    return listed(call, sub["items"]["data"], f"/v1/subscription_items?subscription={sub_id}")


@route("GET", "/v1/subscription_items/{id}")
def _itemget_one(call: Call) -> Json:
    call.params.only(())
    sub = _item_owner(call.store, call.args[0])
    return next(i for i in sub["items"]["data"] if i["id"] == call.args[0])


@route("POST", "/v1/subscription_items/{id}")
def _item_update(call: Call) -> Json:
    sub = _item_owner(call.store, call.args[0])
    return changes.item_update(call.store, sub, call.args[0], call.params)


# --- invoices --------------------------------------------------------------------------------


@route("GET", "/v1/invoices")
def _invoice_list(call: Call) -> Json:
    return listed(call, invoices.invoice_filter(call.store, call.params), "/v1/invoices")


@route("POST", "/v1/invoices/create_preview")
def _invoice_preview(call: Call) -> Json:
    return changes.preview(call.store, call.params)


@route("GET", "/v1/invoices/{id}")
def _invoiceget_one(call: Call) -> Json:
    return get_one(call, "invoice", "invoice")


@route("POST", "/v1/invoices/{id}/finalize")
def _invoice_finalize(call: Call) -> Json:
    invoice = call.store.require(call.args[0], "invoice", "invoice")
    call.params.only(("auto_advance",))
    invoices.finalize(call.store, invoice)
    return invoice


@route("POST", "/v1/invoices/{id}/pay")
def _invoice_pay(call: Call) -> Json:
    store, params = call.store, call.params
    invoice = store.require(call.args[0], "invoice", "invoice")
    params.only(("payment_method", "paid_out_of_band", "off_session"))
    if invoice["status"] in ("paid", "void"):
        raise invalid(f"Invoice is already {invoice['status']}.", code="invoice_not_editable")
    if params.boolean("paid_out_of_band"):
        if invoice["status"] == "draft":
            invoices.finalize(store, invoice)
        if invoice["status"] != "paid":
            invoices.mark_paid(store, invoice)
        return invoice
    card_id = params.text("payment_method")
    card = (
        store.require(card_id, "payment_method", "PaymentMethod", param="payment_method")
        if card_id
        else None
    )
    result = payments.attempt(
        store, invoice, card=card, customer_present=params.boolean("off_session") is False
    )
    if result != payments.SUCCEEDED:
        raise payments.card_error(result)
    return invoice


@route("POST", "/v1/invoices/{id}/void")
def _invoice_void(call: Call) -> Json:
    invoice = get_one(call, "invoice", "invoice")
    invoices.close(call.store, invoice, "void")
    invoices.settled(call.store, invoice)
    return invoice


@route("POST", "/v1/invoices/{id}/mark_uncollectible")
def _invoice_forgive(call: Call) -> Json:
    invoice = get_one(call, "invoice", "invoice")
    invoices.close(call.store, invoice, "uncollectible")
    invoices.settled(call.store, invoice)
    return invoice


# --- events ----------------------------------------------------------------------------------


@route("GET", "/v1/events")
def _event_list(call: Call) -> Json:
    call.params.only(("type", "types", "limit", "starting_after"))
    wanted = set(call.params.strings("types")) | set(call.params.strings("type"))
    rows = [e for e in reversed(call.store.events) if not wanted or e["type"] in wanted]
    return listed(call, rows, "/v1/events")


@route("GET", "/v1/events/{id}")
def _eventget_one(call: Call) -> Json:
    call.params.only(())
    for event in call.store.events:
        if event["id"] == call.args[0]:
            return event
    raise StripeError(404, f"No such event: '{call.args[0]}'", code="resource_missing", param="id")
