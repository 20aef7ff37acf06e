"""Checkout Sessions (``mode=subscription``) and Customer Portal sessions.

Creating a session checks what Stripe checks: a ``success_url``; ``customer`` or
``customer_email``, not both; recurring line items, licensed ones with a ``quantity`` and metered
ones without; one currency and interval. Completing it (the hosted page's submit) happens once:
under the store's lock a complete session only redirects again, so a double click or a retried
POST never makes a second customer or subscription.

Without a trial the first period is charged on the page, the customer present: a declining card
is refused there and nothing is created (as Checkout keeps the customer on the page); a card that
needs authentication passes (3-D Secure on the page). With a trial the card is only saved, so
a "declines" card shows itself at the first renewal, which is the point of choosing it.
"""

from dataclasses import dataclass

from .catalog import ADDRESS_FIELDS, CARD_BEHAVIOURS, card_create, customer_create
from .events import emit
from .params import Params
from .payments import SUCCEEDED, outcome
from .state import DAY, Json, Store, invalid, new_id
from .subscriptions import END_BEHAVIOURS, build, parse_items, start

SESSION_LIFETIME = DAY
NO_CARD = "none"

SESSION_FIELDS = (
    "mode",
    "customer",
    "customer_email",
    "client_reference_id",
    "line_items",
    "subscription_data",
    "metadata",
    "success_url",
    "cancel_url",
    "billing_address_collection",
    "automatic_tax",
    "payment_method_collection",
    "payment_method_types",
    "customer_update",
)


class SubmitError(Exception):
    """What the person on the hosted page must fix; the page shows it and keeps the session."""


def _subscription_data(params: Params) -> Json:
    data = params.sub("subscription_data")
    if data is None:
        return {"trial_period_days": None, "end_behaviour": "create_invoice", "metadata": {}}
    data.only(("trial_period_days", "trial_settings", "metadata", "description"))
    end = "create_invoice"
    settings = data.sub("trial_settings")
    if settings is not None:
        settings.only(("end_behavior",))
        behaviour = settings.sub("end_behavior")
        if behaviour is not None:
            behaviour.only(("missing_payment_method",))
            end = behaviour.need("missing_payment_method", choices=END_BEHAVIOURS)
    return {
        "trial_period_days": data.integer("trial_period_days", minimum=1),
        "end_behaviour": end,
        "metadata": data.metadata() or {},
    }


def _customer_update(params: Params, customer_id: str | None) -> dict[str, str]:
    """What Checkout may write back to an existing customer: ``auto`` saves what was entered."""
    update = params.sub("customer_update")
    if update is None:
        return {"address": "never", "name": "never"}
    if not customer_id:
        raise invalid("customer_update can only be used with customer.", param="customer_update")
    update.only(("address", "name", "shipping"))
    return {
        "address": update.text("address", choices=("auto", "never")) or "never",
        "name": update.text("name", choices=("auto", "never")) or "never",
    }


def session_create(store: Store, params: Params) -> Json:
    params.only(SESSION_FIELDS)
    mode = params.need("mode", choices=("payment", "setup", "subscription"))
    if mode != "subscription":
        raise invalid("The Stripe fake models mode=subscription only.", param="mode")
    customer_id, email = params.text("customer"), params.text("customer_email")
    if customer_id and email:
        raise invalid(
            "You may only specify one of these parameters: customer, customer_email.",
            param="customer_email",
        )
    customer = (
        store.require(customer_id, "customer", "customer", param="customer")
        if customer_id
        else None
    )
    update = _customer_update(params, customer_id)
    items = parse_items(store, params.items("line_items"), quantity_required=True)
    tax = params.sub("automatic_tax")
    if tax is not None:
        tax.only(("enabled",))
    data = _subscription_data(params)
    if (
        customer is not None
        and tax is not None
        and tax.boolean("enabled")
        and not customer.get("address")
        and update["address"] != "auto"
    ):
        # Stripe's own refusal: tax needs an address, and this customer has none to give.
        raise invalid(
            "Automatic tax calculation requires a valid address on the Customer. Add a valid "
            "address to the Customer or set `customer_update[address]` to 'auto' to save the "
            "address entered in Checkout.",
            param="customer_update[address]",
        )
    collection = params.text("payment_method_collection", choices=("always", "if_required"))
    currency = items[0][0]["currency"]
    first_charge = 0 if data["trial_period_days"] else _seats_amount(items)
    session: Json = {
        "id": new_id("cs_test", 58),
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": first_charge,
        "amount_total": first_charge,
        "automatic_tax": {
            "enabled": bool(tax and tax.boolean("enabled")),
            "liability": None,
            "provider": None,
            "status": None,
        },
        "billing_address_collection": params.text(
            "billing_address_collection", choices=("auto", "required")
        ),
        "cancel_url": params.text("cancel_url"),
        "client_reference_id": params.text("client_reference_id"),
        "created": store.now,
        "currency": currency,
        "customer": customer_id,
        "customer_details": None,
        "customer_email": email,
        "expires_at": store.now + SESSION_LIFETIME,
        "invoice": None,
        "livemode": False,
        "metadata": params.metadata() or {},
        "mode": mode,
        "payment_method_collection": collection or "always",
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "status": "open",
        "subscription": None,
        "success_url": params.need("success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": None,
        "_items": [(price["id"], quantity) for price, quantity in items],
        "_subscription_data": data,
        "_customer_update": update,
    }
    session["url"] = f"{store.base_url}/checkout/{session['id']}"
    return store.add(session)


def _seats_amount(items: list[tuple[Json, int | None]]) -> int:
    return sum(
        int(price["unit_amount"] or 0) * (quantity or 0)
        for price, quantity in items
        if price["recurring"]["usage_type"] == "licensed"
    )


def line_items(store: Store, session: Json) -> list[Json]:
    rows = []
    for price_id, quantity in session["_items"]:
        price = store.objects[price_id]
        product = store.objects[price["product"]]
        amount = int(price["unit_amount"] or 0) * (quantity or 0)
        rows.append(
            {
                "id": "li_" + price_id.removeprefix("price_"),
                "object": "item",
                "amount_discount": 0,
                "amount_subtotal": amount,
                "amount_tax": 0,
                "amount_total": amount,
                "currency": price["currency"],
                "description": product["name"],
                "price": price,
                "quantity": quantity,
            }
        )
    return rows


def no_card_allowed(session: Json) -> bool:
    return bool(
        session["payment_method_collection"] == "if_required"
        and session["_subscription_data"]["trial_period_days"]
    )


def needs_address(session: Json) -> bool:
    return bool(
        session["billing_address_collection"] == "required" or session["automatic_tax"]["enabled"]
    )


@dataclass
class Submission:
    """What the person typed on the hosted page."""

    card: str
    email: str
    name: str
    address: dict[str, str]


def _check(store: Store, session: Json, form: Submission) -> str | None:
    """Everything that can refuse the submit, before anything is created; returns the email."""
    if form.card not in (*CARD_BEHAVIOURS, NO_CARD) or (
        form.card == NO_CARD and not no_card_allowed(session)
    ):
        raise SubmitError("Choose one of the test cards.")
    customer = store.get(session["customer"] or "", "customer")
    email = customer["email"] if customer else (session["customer_email"] or form.email.strip())
    if not email or "@" not in email:
        raise SubmitError("Enter the email address the receipts go to.")
    if form.card != NO_CARD and not form.name.strip():
        raise SubmitError("Enter the name on the card.")
    if needs_address(session):
        missing = [
            k
            for k in ("line1", "city", "postal_code", "country")
            if not form.address.get(k, "").strip()
        ]
        if missing:
            raise SubmitError(
                "Enter the billing address: " + ", ".join(missing).replace("_", " ") + "."
            )
    if session["_subscription_data"]["trial_period_days"] is None and form.card != NO_CARD:
        probe: Json = {"_behaviour": form.card}
        if outcome(probe, customer_present=True) != SUCCEEDED:
            raise SubmitError("Your card was declined. Try another card.")
    return email


def complete(store: Store, session: Json, form: Submission) -> str:
    """Completes the session once; returns where to send the browser."""
    target = str(session["success_url"]).replace("{CHECKOUT_SESSION_ID}", session["id"])
    if session["status"] == "complete":
        return target
    if session["status"] != "open":
        raise SubmitError("This Checkout session has expired. Go back and start again.")
    email = _check(store, session, form)
    address = (
        {k: form.address.get(k, "").strip() or None for k in ADDRESS_FIELDS}
        if needs_address(session)
        else None
    )
    customer = store.get(session["customer"] or "", "customer")
    if customer is None:
        fields: Json = {"email": email, "name": form.name.strip() or None}
        if address:
            fields["address"] = {k: v for k, v in address.items() if v}
        customer = customer_create(store, Params(fields))
    else:
        update = session["_customer_update"]
        if update["address"] == "auto" and address:
            customer["address"] = {k: address.get(k) for k in ADDRESS_FIELDS}
        if update["name"] == "auto" and form.name.strip():
            customer["name"] = form.name.strip()
    card = None
    if form.card != NO_CARD:
        card = card_create(
            store, customer_id=customer["id"], behaviour=form.card, name=form.name.strip()
        )
    data = session["_subscription_data"]
    sub = build(
        store,
        customer=customer,
        items=[(store.objects[p], q) for p, q in session["_items"]],
        metadata=dict(data["metadata"]),
        card_id=card["id"] if card else None,
        end_behaviour=data["end_behaviour"],
        automatic_tax=session["automatic_tax"]["enabled"],
    )
    days = data["trial_period_days"]
    start(
        store,
        sub,
        trial_end=store.now + days * DAY if days else None,
        pay=True,
        customer_present=True,
    )
    session.update(
        status="complete",
        customer=customer["id"],
        subscription=sub["id"],
        invoice=sub["latest_invoice"],
        payment_status="no_payment_required" if days else "paid",
        customer_details={
            "address": address,
            "email": email,
            "name": customer["name"],
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
    )
    emit(store, "checkout.session.completed", session)
    return target


def expire(store: Store, session: Json) -> Json:
    if session["status"] != "open":
        raise invalid(f"Only open sessions can be expired; this one is {session['status']}.")
    session["status"], session["url"] = "expired", None
    emit(store, "checkout.session.expired", session)
    return session


def session_filter(store: Store, params: Params) -> list[Json]:
    params.only(("customer", "subscription", "status", "limit", "starting_after"))
    sessions = store.all("checkout.session")
    for key in ("customer", "subscription", "status"):
        wanted = params.text(key)
        if wanted is not None:
            sessions = [s for s in sessions if s[key] == wanted]
    return sessions


def portal_session_create(store: Store, params: Params) -> Json:
    params.only(("customer", "return_url", "configuration", "locale"))
    customer = store.require(params.need("customer"), "customer", "customer", param="customer")
    portal: Json = {
        "id": new_id("bps"),
        "object": "billing_portal.session",
        "configuration": params.text("configuration") or "bpc_fake_default",
        "created": store.now,
        "customer": customer["id"],
        "flow": None,
        "livemode": False,
        "locale": params.text("locale"),
        "on_behalf_of": None,
        "return_url": params.text("return_url"),
        "url": "",
    }
    portal["url"] = f"{store.base_url}/portal/{portal['id']}"
    return store.add(portal)
