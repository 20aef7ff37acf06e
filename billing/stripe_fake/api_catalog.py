"""The ``/v1`` routes of the catalog, metering, Checkout and the portal.

Each route reads its parameters and calls one domain function; ``routing`` renders the answer.
"""

from . import catalog, checkout, metering
from .routing import Call, Routes, get_one, listed
from .state import Json

routes = Routes()
route = routes.route


# --- customers, products, prices, cards ------------------------------------------------------


@route("POST", "/v1/customers")
def _customer_create(call: Call) -> Json:
    return catalog.customer_create(call.store, call.params)


@route("GET", "/v1/customers")
def _customer_list(call: Call) -> Json:
    call.params.only(("email", "limit", "starting_after"))
    email = call.params.text("email")
    rows = [c for c in call.store.all("customer") if email is None or c["email"] == email]
    return listed(call, rows, "/v1/customers")


@route("GET", "/v1/customers/{id}")
def _customerget_one(call: Call) -> Json:
    return get_one(call, "customer", "customer")


@route("POST", "/v1/customers/{id}")
def _customer_update(call: Call) -> Json:
    customer = call.store.require(call.args[0], "customer", "customer")
    return catalog.customer_update(call.store, customer, call.params)


@route("POST", "/v1/products")
def _product_create(call: Call) -> Json:
    return catalog.product_create(call.store, call.params)


@route("GET", "/v1/products")
def _product_list(call: Call) -> Json:
    call.params.only(("active", "limit", "starting_after"))
    active = call.params.boolean("active")
    rows = [p for p in call.store.all("product") if active is None or p["active"] == active]
    return listed(call, rows, "/v1/products")


@route("GET", "/v1/products/{id}")
def _productget_one(call: Call) -> Json:
    return get_one(call, "product", "product")


@route("POST", "/v1/prices")
def _price_create(call: Call) -> Json:
    return catalog.price_create(call.store, call.params)


@route("GET", "/v1/prices")
def _price_list(call: Call) -> Json:
    return listed(call, catalog.price_filter(call.store, call.params), "/v1/prices")


@route("GET", "/v1/prices/{id}")
def _priceget_one(call: Call) -> Json:
    return get_one(call, "price", "price")


@route("POST", "/v1/prices/{id}")
def _price_update(call: Call) -> Json:
    price = call.store.require(call.args[0], "price", "price")
    return catalog.price_update(call.store, price, call.params)


@route("GET", "/v1/payment_methods/{id}")
def _cardget_one(call: Call) -> Json:
    return get_one(call, "payment_method", "PaymentMethod")


# --- metering --------------------------------------------------------------------------------


@route("POST", "/v1/billing/meters")
def _meter_create(call: Call) -> Json:
    return metering.meter_create(call.store, call.params)


@route("GET", "/v1/billing/meters")
def _meter_list(call: Call) -> Json:
    call.params.only(("status", "limit", "starting_after"))
    status = call.params.text("status", choices=("active", "inactive"))
    rows = [m for m in call.store.all("billing.meter") if status is None or m["status"] == status]
    return listed(call, rows, "/v1/billing/meters")


@route("GET", "/v1/billing/meters/{id}")
def _meterget_one(call: Call) -> Json:
    return get_one(call, "billing.meter", "billing meter")


@route("GET", "/v1/billing/meters/{id}/event_summaries")
def _meter_summaries(call: Call) -> Json:
    meter = call.store.require(call.args[0], "billing.meter", "billing meter")
    return metering.summaries(call.store, meter, call.params)


@route("POST", "/v1/billing/meter_events")
def _meter_event(call: Call) -> Json:
    return metering.meter_event_create(call.store, call.params)


# --- checkout and portal ---------------------------------------------------------------------


@route("POST", "/v1/checkout/sessions")
def _session_create(call: Call) -> Json:
    return checkout.session_create(call.store, call.params)


@route("GET", "/v1/checkout/sessions")
def _session_list(call: Call) -> Json:
    return listed(call, checkout.session_filter(call.store, call.params), "/v1/checkout/sessions")


@route("GET", "/v1/checkout/sessions/{id}")
def _sessionget_one(call: Call) -> Json:
    return get_one(call, "checkout.session", "checkout.session")


@route("GET", "/v1/checkout/sessions/{id}/line_items")
def _session_lines(call: Call) -> Json:
    session = call.store.require(call.args[0], "checkout.session", "checkout.session")
    call.params.only(("limit", "starting_after"))
    url = f"/v1/checkout/sessions/{session['id']}/line_items"
    return listed(call, checkout.line_items(call.store, session), url)


@route("POST", "/v1/checkout/sessions/{id}/expire")
def _session_expire(call: Call) -> Json:
    session = get_one(call, "checkout.session", "checkout.session")
    return checkout.expire(call.store, session)


@route("POST", "/v1/billing_portal/sessions")
def _portal_create(call: Call) -> Json:
    return checkout.portal_session_create(call.store, call.params)
