"""Taking money for an invoice, and what the answer does to the subscription (dunning).

A charge's outcome comes from the test card: ``succeeds`` pays; ``declines`` fails;
``requires_authentication`` pays when the customer is present (Checkout, the hosted invoice page,
the portal: 3-D Secure passes) and needs action when they are not (renewals, retries, the API):
``invoice.payment_action_required``, no automatic retry, the customer must come and pay.

After a failed automatic attempt the invoice is retried ``RETRY_DAYS`` after the previous one
(3, 5, then 7 days: four attempts over 15 days); the subscription is ``past_due`` from the first
failure and ``unpaid`` after the last, as Stripe's "mark the subscription as unpaid" setting
does. Paying, voiding or forgiving the subscription's latest invoice makes it ``active`` again.
"""

from .events import emit, observed
from .invoices import finalize, invoice_subscription, mark_paid
from .state import DAY, Json, Store, StripeError

RETRY_DAYS = (3, 5, 7)
SUCCEEDED, DECLINED, ACTION, NO_CARD = "succeeded", "declined", "requires_action", "no_card"


def default_card(store: Store, invoice: Json) -> Json | None:
    sub = invoice_subscription(store, invoice)
    customer = store.objects[invoice["customer"]]
    pm_id = (sub or {}).get("default_payment_method") or customer["invoice_settings"][
        "default_payment_method"
    ]
    return store.get(pm_id, "payment_method") if pm_id else None


def outcome(card: Json | None, *, customer_present: bool) -> str:
    if card is None:
        return NO_CARD
    behaviour = card["_behaviour"]
    if behaviour == "succeeds" or (behaviour == "requires_authentication" and customer_present):
        return SUCCEEDED
    return ACTION if behaviour == "requires_authentication" else DECLINED


def card_error(result: str) -> StripeError:
    """The 402 a client gets when a charge it asked for fails."""
    if result == ACTION:
        return StripeError(
            402,
            "Your card was declined. This transaction requires authentication.",
            type="card_error",
            code="authentication_required",
            extra={"decline_code": "authentication_required"},
        )
    if result == NO_CARD:
        return StripeError(
            400,
            "This customer has no attached payment source or default payment method.",
            code="resource_missing",
            param="payment_method",
        )
    return StripeError(
        402,
        "Your card was declined.",
        type="card_error",
        code="card_declined",
        extra={"decline_code": "generic_decline"},
    )


def attempt(
    store: Store,
    invoice: Json,
    *,
    card: Json | None = None,
    customer_present: bool = False,
    automatic: bool = False,
) -> str:
    """One charge for the invoice's remaining amount; returns the outcome."""
    if invoice["status"] == "draft":
        finalize(store, invoice)
    if invoice["status"] == "paid":
        return SUCCEEDED
    card = card or default_card(store, invoice)
    result = outcome(card, customer_present=customer_present)
    invoice["attempt_count"] += 1
    invoice["attempted"] = True
    if result == SUCCEEDED:
        mark_paid(store, invoice)
    else:
        _failed(store, invoice, result, automatic=automatic)
    return result


def _failed(store: Store, invoice: Json, result: str, *, automatic: bool) -> None:
    customer = store.objects[invoice["customer"]]
    with observed(store, customer, "customer.updated"):
        customer["delinquent"] = True
    final = False
    if result == ACTION:
        invoice["next_payment_attempt"] = None
        emit(store, "invoice.payment_action_required", invoice)
    else:
        if automatic:
            tries = invoice["attempt_count"]
            final = tries > len(RETRY_DAYS)
            invoice["next_payment_attempt"] = (
                None if final else store.now + RETRY_DAYS[tries - 1] * DAY
            )
        emit(store, "invoice.payment_failed", invoice)
    sub = invoice_subscription(store, invoice)
    if sub is None or sub["latest_invoice"] != invoice["id"]:
        return
    if sub["status"] in ("active", "trialing") or (final and sub["status"] == "past_due"):
        with observed(store, sub, "customer.subscription.updated"):
            sub["status"] = "unpaid" if final else "past_due"


def retry_open_invoices(store: Store, customer: Json) -> None:
    """A new card in the portal: the customer's unpaid invoices are tried again at once."""
    for invoice in reversed(store.all("invoice")):
        if invoice["customer"] == customer["id"] and invoice["status"] == "open":
            attempt(store, invoice, customer_present=True)
