"""Invoices: drafts, finalization, void and uncollectible, lists and the upcoming preview.

The state machine is Stripe's: ``draft`` → ``open`` (finalized: numbered, given a hosted page)
→ ``paid`` | ``void`` | ``uncollectible`` (which can still be paid). A subscription's cycle
invoice stays a draft for an hour (``automatically_finalizes_at``) before it finalizes: the
window in which usage reported late for the period that just ended still lands on it. Taking
money is ``payments.py``'s job.
"""

from .events import emit, observed
from .params import Params
from .pricing import refresh_metered
from .state import HOUR, Json, Store, invalid, new_id


def invoice_new(
    store: Store,
    sub: Json,
    *,
    reason: str,
    period: tuple[int, int],
    lines: list[Json],
    announce: bool = True,
) -> Json:
    """A stored draft invoice for ``sub``; ``announce=False`` lets the caller order the events."""
    invoice = invoice_draft(store, sub, reason=reason, period=period, lines=lines)
    store.add(invoice)
    sub["latest_invoice"] = invoice["id"]
    if announce:
        emit(store, "invoice.created", invoice)
    return invoice


def invoice_draft(
    store: Store,
    sub: Json,
    *,
    reason: str,
    period: tuple[int, int],
    lines: list[Json],
    invoice_id: str | None = None,
) -> Json:
    """The invoice object alone, stored nowhere: ``create_preview`` answers with one of these."""
    customer = store.objects[sub["customer"]]
    invoice: Json = {
        "id": invoice_id or new_id("in"),
        "object": "invoice",
        "account_country": "US",
        "account_name": "CustomerInfo (Stripe fake)",
        "amount_due": 0,
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": 0,
        "amount_shipping": 0,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": True,
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": sub["automatic_tax"]["enabled"],
            "liability": None,
            "provider": None,
            "status": "complete" if sub["automatic_tax"]["enabled"] else None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": reason,
        "collection_method": "charge_automatically",
        "created": store.now,
        "currency": sub["currency"],
        "customer": customer["id"],
        "customer_address": customer["address"],
        "customer_email": customer["email"],
        "customer_name": customer["name"],
        "default_payment_method": None,
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "lines": {"object": "list", "data": lines, "has_more": False, "url": ""},
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": dict(sub["metadata"]), "subscription": sub["id"]},
            "type": "subscription_details",
        },
        "period_end": period[1],
        "period_start": period[0],
        "starting_balance": 0,
        "status": "draft",
        "status_details": None,
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": 0,
        "subtotal_excluding_tax": 0,
        "total": 0,
        "total_discount_amounts": [],
        "total_excluding_tax": 0,
        "total_taxes": [],
        "webhooks_delivered_at": None,
    }
    invoice["lines"]["url"] = f"/v1/invoices/{invoice['id']}/lines"
    for made in lines:
        made["invoice"] = invoice["id"]
    totals(invoice)
    return invoice


def schedule_finalization(invoice: Json, at: int) -> None:
    invoice["automatically_finalizes_at"] = at + HOUR


def totals(invoice: Json) -> None:
    """Sums the lines; a negative total is owed to nobody here (no customer balance kept)."""
    subtotal = sum(made["amount"] for made in invoice["lines"]["data"])
    invoice["subtotal"] = invoice["subtotal_excluding_tax"] = subtotal
    invoice["total"] = invoice["total_excluding_tax"] = subtotal
    invoice["amount_due"] = max(subtotal, 0)
    invoice["amount_remaining"] = invoice["amount_due"] - invoice["amount_paid"]


def finalize(store: Store, invoice: Json) -> None:
    """Numbers the invoice and gives it a hosted page; a zero invoice is paid on the spot."""
    if invoice["status"] != "draft":
        raise invalid("This invoice is already finalized.", code="invoice_not_editable")
    for made in invoice["lines"]["data"]:
        if "_metered" in made:
            price = store.objects[made["pricing"]["price_details"]["price"]]
            refresh_metered(store, made, price)
    totals(invoice)
    invoice["status"] = "open"
    invoice["number"] = store.next_invoice_number()
    invoice["hosted_invoice_url"] = f"{store.base_url}/invoice/{invoice['id']}"
    invoice["automatically_finalizes_at"] = None
    invoice["effective_at"] = invoice["status_transitions"]["finalized_at"] = store.now
    emit(store, "invoice.finalized", invoice)
    if invoice["amount_due"] == 0:
        mark_paid(store, invoice)


def mark_paid(store: Store, invoice: Json) -> None:
    invoice["status"] = "paid"
    invoice["amount_paid"] = invoice["amount_due"]
    invoice["amount_remaining"] = 0
    invoice["next_payment_attempt"] = None
    invoice["status_details"] = None
    invoice["status_transitions"]["paid_at"] = store.now
    emit(store, "invoice.paid", invoice)
    emit(store, "invoice.payment_succeeded", invoice)
    settled(store, invoice)


def invoice_subscription(store: Store, invoice: Json) -> Json | None:
    details = invoice["parent"]["subscription_details"]
    return store.get(details["subscription"], "subscription") if details else None


def settled(store: Store, invoice: Json) -> None:
    """The invoice is off the books (paid, void, forgiven): the subscription recovers."""
    customer = store.objects[invoice["customer"]]
    owing = any(
        i["status"] == "open" and i["attempt_count"] > 0
        for i in store.all("invoice")
        if i["customer"] == customer["id"]
    )
    with observed(store, customer, "customer.updated"):
        customer["delinquent"] = owing
    sub = invoice_subscription(store, invoice)
    if sub is None or sub["latest_invoice"] != invoice["id"]:
        return
    # A first invoice must be paid to start the subscription; voiding it does not.
    recovering = (
        ("past_due", "unpaid", "incomplete")
        if invoice["status"] == "paid"
        else ("past_due", "unpaid")
    )
    if sub["status"] in recovering:
        with observed(store, sub, "customer.subscription.updated"):
            sub["status"] = "active"


def close(store: Store, invoice: Json, status: str) -> None:
    """``void`` or ``uncollectible``: an open invoice nobody will be charged for any more."""
    allowed = ("open",) if status == "uncollectible" else ("open", "uncollectible")
    if invoice["status"] not in allowed:
        raise invalid(
            f"You can only mark {' or '.join(allowed)} invoices as {status}; this invoice is "
            f"{invoice['status']}.",
            code="invoice_not_editable",
        )
    invoice["status"] = status
    invoice["next_payment_attempt"] = None
    invoice["amount_remaining"] = 0 if status == "void" else invoice["amount_remaining"]
    if status == "void":
        invoice["status_transitions"]["voided_at"] = store.now
        emit(store, "invoice.voided", invoice)
    else:
        invoice["status_transitions"]["marked_uncollectible_at"] = store.now
        invoice["status_details"] = {"uncollectible": {"reason": "user_forgiven"}}
        emit(store, "invoice.marked_uncollectible", invoice)


def of_subscription(store: Store, sub_id: str) -> list[Json]:
    return [
        i
        for i in store.all("invoice")
        if i["parent"]["subscription_details"]["subscription"] == sub_id
    ]


def invoice_filter(store: Store, params: Params) -> list[Json]:
    params.only(("customer", "subscription", "status", "limit", "starting_after"))
    invoices = store.all("invoice")
    customer = params.text("customer")
    if customer is not None:
        invoices = [i for i in invoices if i["customer"] == customer]
    subscription = params.text("subscription")
    if subscription is not None:
        invoices = [
            i
            for i in invoices
            if i["parent"]["subscription_details"]["subscription"] == subscription
        ]
    status = params.text("status", choices=("draft", "open", "paid", "uncollectible", "void"))
    if status is not None:
        invoices = [i for i in invoices if i["status"] == status]
    return invoices
