"""A stateful fake Stripe that speaks real HTTP, for the test suite and for ``make run``.

The real ``stripe.StripeClient`` talks to it over loopback::

    fake = StripeFake().start()
    addresses = {"api": fake.url, "meter_events": fake.url}
    client = StripeClient("sk_test_fake", base_addresses=addresses)
    ...
    fake.stop()

or on its own: ``python -m billing.stripe_fake --port 12111 --webhook-url URL --webhook-secret
whsec_…`` (then open ``http://127.0.0.1:12111/_fake/`` to see and move its clock).

It keeps customers, products, prices, billing meters and meter events, Checkout and portal
sessions, subscriptions and invoices, with Stripe's rules (see each module's docstring), runs
their billing cycle on its own clock, and sends signed webhooks.

Supported Stripe API (v1, form-encoded, ``expand[]`` on every answer):
    customers          POST/GET /v1/customers, GET/POST /v1/customers/{id}
    products           POST/GET /v1/products, GET /v1/products/{id}
    prices             POST/GET /v1/prices, GET/POST /v1/prices/{id}
    payment methods    GET /v1/payment_methods/{id}
    meters             POST/GET /v1/billing/meters, GET /v1/billing/meters/{id},
                       GET /v1/billing/meters/{id}/event_summaries
    meter events       POST /v1/billing/meter_events
    Checkout           POST/GET /v1/checkout/sessions, GET /v1/checkout/sessions/{id},
                       GET …/{id}/line_items, POST …/{id}/expire
    portal             POST /v1/billing_portal/sessions
    subscriptions      POST/GET /v1/subscriptions, GET/POST/DELETE /v1/subscriptions/{id},
                       POST /v1/subscriptions/{id}/resume
    subscription items GET /v1/subscription_items, GET/POST /v1/subscription_items/{id}
    invoices           GET /v1/invoices, GET /v1/invoices/{id}, POST /v1/invoices/create_preview,
                       POST /v1/invoices/{id}/finalize|pay|void|mark_uncollectible
    events             GET /v1/events, GET /v1/events/{id}

Hosted pages (for a person, or a test posting forms): ``/checkout/{cs_id}``,
``/invoice/{in_id}``, ``/portal/{bps_id}``; the fake's clock page: ``/_fake/``.

Control API (fake-only; no key; form or query parameters; JSON answers; a form field
``next=/path`` answers with a redirect there instead). Each has a method on ``StripeFake``:
    GET    /_fake/clock                     {"now", "offset"}                  now()
    POST   /_fake/clock/advance             seconds=N: does all work due       advance(n)
    POST   /_fake/customers/{cus}/card      behaviour=succeeds|declines|       set_card(…)
                                            requires_authentication
    GET    /_fake/webhook_endpoints         the endpoints, with their secrets
    POST   /_fake/webhook_endpoints         url=, secret=, enabled_events[]=   add_webhook_endpoint
    DELETE /_fake/webhook_endpoints         removes them all
    POST   /_fake/webhooks/mode             mode=background|manual             set_webhook_mode(…)
    POST   /_fake/webhooks/flush            sends what is pending, now         flush_webhooks()
    POST   /_fake/webhooks/drain            hands pending deliveries over,     drain_webhooks()
                                            signed, unsent
    GET    /_fake/webhooks/deliveries       every delivery and its attempts
    GET    /_fake/events?type=              events so far, oldest first        events(type)
    POST   /_fake/rate_limit                per_second=N (empty: off)          set_rate_limit(n)
    POST   /_fake/force_429                 count=N, code=rate_limit|          force_429(n, code)
                                            lock_timeout
    GET    /_fake/requests                  API requests seen (Stripe-Version, Idempotency-Key)
"""

from .server import StripeFake
from .state import API_VERSION
from .webhooks import SignedRequest, signature_header

__all__ = ["API_VERSION", "SignedRequest", "StripeFake", "signature_header"]
