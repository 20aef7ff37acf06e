"""The hosted pages a person sees: Checkout, an invoice, the Customer Portal, the fake's clock.

Plain HTML forms (no script, no external assets): every field has a label, choices are radio
groups in a fieldset with a legend, problems are announced (``role="alert"``), and each submit
is a POST answered by a 303 redirect, so a reload never submits twice. Tests drive them with
plain HTTP form posts, exactly as a browser would send them.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from importlib.resources import files
from string import Template

from .catalog import CARD_BEHAVIOURS, card_create, card_set_default
from .changes import update
from .checkout import NO_CARD, Submission, SubmitError, complete, needs_address, no_card_allowed
from .params import Params
from .payments import SUCCEEDED, attempt, retry_open_invoices
from .pricing import TIMES
from .state import Json, Store
from .subscriptions import cancel
from .wire import Reply, Request, html_reply, redirect

CARD_LABELS = {
    "succeeds": "4242 4242 4242 4242: succeeds",
    "declines": "4000 0000 0000 0341: saved, then every charge is declined",
    "requires_authentication": "4000 0027 6000 3184: asks for authentication (3-D Secure)",
    NO_CARD: "No card for now: start the trial without one",
}
ADDRESS_LABELS = (
    ("line1", "Address", "address-line1"),
    ("city", "City", "address-level2"),
    ("postal_code", "Postal code", "postal-code"),
    ("country", "Country (two letters, e.g. US)", "country"),
)


def _template(name: str) -> Template:
    return Template(files(__package__).joinpath("templates", name).read_text(encoding="utf-8"))


def _page(title: str, name: str, **values: str) -> str:
    content = _template(name).substitute(values)
    return _template("page.html").substitute(title=escape(title), content=content)


def money(amount: int, currency: str) -> str:
    return f"{amount / 100:,.2f} {currency.upper()}"


def when(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%d %b %Y %H:%M UTC")


def _message(text: str, kind: str) -> str:
    role = "alert" if kind == "error" else "status"
    return f'<p class="{kind}" role="{role}">{escape(text)}</p>' if text else ""


def card_choices(options: list[str], checked: str) -> str:
    return "\n".join(
        f'<div class="choice"><input type="radio" name="card" id="card-{o}" value="{o}"'
        f'{" checked" if o == checked else ""}><label for="card-{o}">{escape(CARD_LABELS[o])}'
        "</label></div>"
        for o in options
    )


def _field(name: str, label: str, value: str, *, kind: str = "text", extra: str = "") -> str:
    return (
        f'<label for="{name}">{escape(label)}</label>'
        f'<input type="{kind}" id="{name}" name="{name}" value="{escape(value)}" {extra}>'
    )


# --- Checkout --------------------------------------------------------------------------------


def _summary(store: Store, session: Json) -> str:
    rows = []
    for price_id, quantity in session["_items"]:
        price = store.objects[price_id]
        name = escape(store.objects[price["product"]]["name"])
        every = price["recurring"]["interval"]
        if price["recurring"]["usage_type"] == "metered":
            rows.append(f"<li>{name}: billed by usage at the end of each {every}</li>")
        else:
            unit = money(int(price["unit_amount"] or 0), price["currency"])
            total = money(int(price["unit_amount"] or 0) * int(quantity), price["currency"])
            rows.append(f"<li>{quantity} {TIMES} {name} at {unit}: {total} a {every}</li>")
    days = session["_subscription_data"]["trial_period_days"]
    trial = f"<p>Free for {days} days, then:</p>" if days else ""
    return f"{trial}<ul>{''.join(rows)}</ul>"


def checkout_page(store: Store, session: Json, form: dict[str, str], problem: str = "") -> str:
    if session["status"] != "open":
        state = "complete" if session["status"] == "complete" else "expired"
        problem = problem or f"This Checkout session is {state}."
    customer = store.get(session["customer"] or "", "customer")
    fields = []
    if customer is None:
        email = session["customer_email"] or form.get("email", "")
        locked = "readonly" if session["customer_email"] else ""
        fields.append(
            _field(
                "email",
                "Email",
                email,
                kind="email",
                extra=f'autocomplete="email" required {locked}',
            )
        )
    fields.append(
        _field("name", "Name on card", form.get("name", ""), extra='autocomplete="cc-name"')
    )
    address = ""
    if needs_address(session):
        inputs = "".join(
            _field(key, label, form.get(key, ""), extra=f'autocomplete="{auto}" required')
            for key, label, auto in ADDRESS_LABELS
        )
        address = f"<fieldset><legend>Billing address</legend>{inputs}</fieldset>"
    options = [*CARD_BEHAVIOURS, *([NO_CARD] if no_card_allowed(session) else [])]
    cancel_url = session["cancel_url"]
    days = session["_subscription_data"]["trial_period_days"]
    return _page(
        "Checkout",
        "checkout.html",
        summary=_summary(store, session),
        problem=_message(problem, "error"),
        session_id=escape(session["id"]),
        customer_fields="\n".join(fields),
        address_fields=address,
        card_choices=card_choices(options, form.get("card", "succeeds")),
        submit_label="Start trial" if days else "Subscribe",
        cancel_link=f'<p><a href="{escape(cancel_url)}">Cancel and go back</a></p>'
        if cancel_url
        else "",
    )


def checkout_submit(store: Store, session: Json, form: dict[str, str]) -> Reply:
    submission = Submission(
        card=form.get("card", ""),
        email=form.get("email", ""),
        name=form.get("name", ""),
        address={key: form.get(key, "") for key, _, _ in ADDRESS_LABELS},
    )
    try:
        return redirect(complete(store, session, submission))
    except SubmitError as problem:
        return html_reply(400, checkout_page(store, session, form, str(problem)))


# --- the hosted invoice page -----------------------------------------------------------------

_NOTICES = {
    "paid": ("Paid. Thank you.", "notice"),
    "declined": ("Your card was declined. Try another card.", "error"),
    "card": ("Card saved; unpaid invoices were tried again with it.", "notice"),
    "canceled": ("Subscription canceled.", "notice"),
    "scheduled": ("The subscription will end at the end of its period.", "notice"),
}


def _notice(query: str) -> str:
    match = re.search(r"(?:^|&)done=(\w+)", query)
    text, kind = _NOTICES.get(match.group(1) if match else "", ("", "notice"))
    return _message(text, kind)


def invoice_page(store: Store, invoice: Json, query: str) -> str:
    currency = invoice["currency"]
    rows = "\n".join(
        f"<tr><td>{escape(line['description'])}<br>"
        f"<small>{when(line['period']['start'])} to {when(line['period']['end'])}</small></td>"
        f'<td class="amount">{money(line["amount"], currency)}</td></tr>'
        for line in invoice["lines"]["data"]
    )
    pay = ""
    if invoice["status"] in ("open", "uncollectible"):
        pay = (
            f'<form method="post" action="/invoice/{escape(invoice["id"])}"><fieldset>'
            "<legend>Pay with a test card</legend>"
            f"{card_choices(list(CARD_BEHAVIOURS), 'succeeds')}"
            '</fieldset><button type="submit">Pay</button></form>'
        )
    customer = store.objects[invoice["customer"]]
    return _page(
        f"Invoice {invoice['number'] or invoice['id']}",
        "invoice.html",
        number=escape(invoice["number"] or "(draft)"),
        status=escape(invoice["status"]),
        customer=escape(customer["email"] or customer["id"]),
        notice=_notice(query),
        period=f"{when(invoice['period_start'])} to {when(invoice['period_end'])} (usage period)",
        rows=rows,
        amount_due=money(invoice["amount_remaining"], currency),
        pay_form=pay,
    )


def invoice_submit(store: Store, invoice: Json, form: dict[str, str]) -> Reply:
    """The customer is here: a card that asks for authentication gets it, and pays."""
    behaviour = form.get("card", "")
    if behaviour not in CARD_BEHAVIOURS or invoice["status"] not in ("open", "uncollectible"):
        return redirect(f"/invoice/{invoice['id']}")
    card = card_create(store, customer_id=invoice["customer"], behaviour=behaviour, name=None)
    result = attempt(store, invoice, card=card, customer_present=True)
    return redirect(
        f"/invoice/{invoice['id']}?done={'paid' if result == SUCCEEDED else 'declined'}"
    )


# --- the Customer Portal ---------------------------------------------------------------------


def _subscription_rows(store: Store, portal: Json, customer_id: str) -> str:
    rows = []
    for sub in [s for s in store.all("subscription") if s["customer"] == customer_id]:
        item = sub["items"]["data"][0]
        ends = when(item["current_period_end"])
        line = f"<p><strong>{escape(sub['status'])}</strong>, current period ends {ends}"
        if sub["cancel_at_period_end"]:
            line += " (ends then)"
        line += "</p>"
        if sub["status"] not in ("canceled", "incomplete_expired"):
            line += (
                f'<form method="post" action="/portal/{escape(portal["id"])}/cancel">'
                f'<input type="hidden" name="subscription" value="{escape(sub["id"])}">'
                '<button type="submit" name="when" value="period_end" class="quiet">'
                "Cancel at the end of the period</button>"
                '<button type="submit" name="when" value="now" class="quiet">Cancel now</button>'
                "</form>"
            )
        rows.append(line)
    return "\n".join(rows) or "<p>None.</p>"


def _card_on_file(store: Store, customer: Json) -> str:
    """The customer's default card, else the one their subscription pays with (Checkout's)."""
    default = customer["invoice_settings"]["default_payment_method"]
    subs = [s for s in store.all("subscription") if s["customer"] == customer["id"]]
    return str(
        default
        or next((s["default_payment_method"] for s in subs if s["default_payment_method"]), "")
    )


def portal_page(store: Store, portal: Json, query: str) -> str:
    customer = store.objects[portal["customer"]]
    card = store.get(_card_on_file(store, customer), "payment_method")
    card_text = f"Visa ending {card['card']['last4']}" if card else "No card on file."
    unpaid = [
        f'<li><a href="{escape(i["hosted_invoice_url"])}">{escape(i["number"])}</a>: '
        f"{money(i['amount_remaining'], i['currency'])}</li>"
        for i in store.all("invoice")
        if i["customer"] == customer["id"] and i["status"] == "open"
    ]
    back = portal["return_url"]
    return _page(
        "Billing",
        "portal.html",
        customer=escape(customer["name"] or customer["email"] or customer["id"]),
        notice=_notice(query),
        card=escape(card_text),
        portal_id=escape(portal["id"]),
        card_choices=card_choices(list(CARD_BEHAVIOURS), "succeeds"),
        subscriptions=_subscription_rows(store, portal, customer["id"]),
        invoices=f"<ul>{''.join(unpaid)}</ul>" if unpaid else "<p>None.</p>",
        return_link=f'<p><a href="{escape(back)}">Return to CustomerInfo</a></p>' if back else "",
    )


def portal_card(store: Store, portal: Json, form: dict[str, str]) -> Reply:
    """A new default card for the customer and their subscriptions; open invoices retried."""
    behaviour = form.get("card", "")
    if behaviour in CARD_BEHAVIOURS:
        customer = store.objects[portal["customer"]]
        card = card_set_default(store, customer, behaviour)
        for sub in store.all("subscription"):
            if sub["customer"] == customer["id"] and sub["default_payment_method"]:
                update(store, sub, Params({"default_payment_method": card["id"]}))
        retry_open_invoices(store, customer)
    return redirect(f"/portal/{portal['id']}?done=card")


def portal_cancel(store: Store, portal: Json, form: dict[str, str]) -> Reply:
    sub = store.get(form.get("subscription", ""), "subscription")
    if sub is None or sub["customer"] != portal["customer"] or sub["status"] == "canceled":
        return redirect(f"/portal/{portal['id']}")
    if form.get("when") == "now":
        cancel(store, sub, reason="cancellation_requested")
        return redirect(f"/portal/{portal['id']}?done=canceled")
    update(store, sub, Params({"cancel_at_period_end": "true"}))
    return redirect(f"/portal/{portal['id']}?done=scheduled")


# --- routing ---------------------------------------------------------------------------------


_KINDS = {"checkout": "checkout.session", "invoice": "invoice", "portal": "billing_portal.session"}
PageHandler = Callable[[Store, Json, Request], Reply]
_ROUTES: dict[tuple[str, str, str | None], PageHandler] = {
    ("GET", "checkout", None): lambda s, o, r: html_reply(200, checkout_page(s, o, {})),
    ("POST", "checkout", None): lambda s, o, r: checkout_submit(s, o, r.form()),
    ("GET", "invoice", None): lambda s, o, r: html_reply(200, invoice_page(s, o, r.query)),
    ("POST", "invoice", None): lambda s, o, r: invoice_submit(s, o, r.form()),
    ("GET", "portal", None): lambda s, o, r: html_reply(200, portal_page(s, o, r.query)),
    ("POST", "portal", "card"): lambda s, o, r: portal_card(s, o, r.form()),
    ("POST", "portal", "cancel"): lambda s, o, r: portal_cancel(s, o, r.form()),
}


def serve(store: Store, request: Request) -> Reply | None:
    """The hosted pages' routes; ``None`` for a path that is none of them."""
    match = re.fullmatch(r"/(checkout|invoice|portal)/([^/]+)(?:/(card|cancel))?", request.path)
    if match is None:
        return None
    kind, object_id, action = match.groups()
    handler = _ROUTES.get((request.method, kind, action))
    if handler is None:
        return None
    obj = store.get(object_id, _KINDS[kind])
    if obj is None:
        text = _message("There is no such page in this Stripe fake (was it restarted?).", "error")
        return html_reply(
            404, _page("Not found", "message.html", heading="Not found", message=text)
        )
    return handler(store, obj, request)


# --- the clock page --------------------------------------------------------------------------


def dashboard(store: Store) -> str:
    subs = []
    for sub in store.all("subscription"):
        customer = store.objects[sub["customer"]]
        invoice = store.get(sub["latest_invoice"] or "", "invoice")
        link = (
            f'<a href="{escape(invoice["hosted_invoice_url"])}">{escape(invoice["number"])}</a>'
            if invoice and invoice["hosted_invoice_url"]
            else "none yet"
        )
        subs.append(
            f"<tr><td>{escape(customer['email'] or customer['id'])}</td>"
            f"<td>{escape(sub['status'])}</td>"
            f"<td>{when(sub['items']['data'][0]['current_period_end'])}</td><td>{link}</td></tr>"
        )
    events = [
        f"<li><code>{escape(e['type'])}</code> at {when(e['created'])}</li>"
        for e in reversed(store.events[-25:])
    ]
    now = store.clock.now()
    return _page(
        "Clock",
        "dashboard.html",
        iso=datetime.fromtimestamp(now, UTC).isoformat(),
        human=when(now),
        offset=f"{store.clock.offset // 3600} h {store.clock.offset % 3600 // 60} min",
        subscriptions="\n".join(subs) or '<tr><td colspan="4">None yet.</td></tr>',
        events="\n".join(events) or "<li>None yet.</li>",
    )
