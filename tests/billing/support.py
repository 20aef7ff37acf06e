"""What the Stripe fake's tests share: the catalog, a Checkout run, a webhook receiver."""

import threading
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, cast

import httpx
import stripe
from stripe import StripeClient
from stripe.params.checkout import SessionCreateParams

from billing.stripe_fake import StripeFake

DAY = 86_400
HOUR = 3_600


@cache
def browser() -> httpx.Client:
    """One HTTP client for the whole run: a new one per request loads the CA bundle each time."""
    return httpx.Client()


@dataclass(frozen=True)
class Catalog:
    product: stripe.Product
    seat: stripe.Price
    meter: stripe.billing.Meter
    usage: stripe.Price


def catalog_create(client: StripeClient) -> Catalog:
    product = client.v1.products.create(params={"name": "CustomerInfo"})
    seat = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 4900,
            "recurring": {"interval": "month"},
            "lookup_key": "seat_monthly",
        }
    )
    meter = client.v1.billing.meters.create(
        params={
            "display_name": "Sign-ups",
            "event_name": "signups",
            "default_aggregation": {"formula": "sum"},
        }
    )
    usage = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            "billing_scheme": "tiered",
            "tiers_mode": "graduated",
            "tiers": [
                {"up_to": 100, "unit_amount": 0},
                {"up_to": "inf", "unit_amount_decimal": Decimal("2.5")},
            ],
            "lookup_key": "signups_monthly",
        }
    )
    return Catalog(product, seat, meter, usage)


def session_create(
    client: StripeClient,
    catalog: Catalog,
    *,
    trial_days: int | None = 14,
    seats: int = 2,
    **extra: Any,
) -> stripe.checkout.Session:
    params: dict[str, Any] = {
        "mode": "subscription",
        "customer_email": "owner@alice.example",
        "client_reference_id": "tenant-alice",
        "line_items": [{"price": catalog.seat.id, "quantity": seats}, {"price": catalog.usage.id}],
        "success_url": "http://app.test/billing/done?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://app.test/billing",
        **extra,
    }
    if trial_days:
        data = params.setdefault("subscription_data", {})
        data["trial_period_days"] = trial_days
    return client.v1.checkout.sessions.create(params=cast(SessionCreateParams, params))


def checkout(
    client: StripeClient,
    catalog: Catalog,
    *,
    card: str = "succeeds",
    trial_days: int | None = 14,
    **extra: Any,
) -> tuple[stripe.checkout.Session, stripe.Subscription]:
    """A person completes Checkout with ``card``; returns the session and its subscription."""
    session = session_create(client, catalog, trial_days=trial_days, **extra)
    assert session.url is not None
    answer = browser().post(session.url, data={"card": card, "name": "Alice Owner"})
    assert answer.status_code == 303, answer.text
    session = client.v1.checkout.sessions.retrieve(session.id)
    assert isinstance(session.subscription, str)
    return session, client.v1.subscriptions.retrieve(session.subscription)


def report(client: StripeClient, customer: str, value: int, timestamp: int, ident: str) -> None:
    client.v1.billing.meter_events.create(
        params={
            "event_name": "signups",
            "payload": {"stripe_customer_id": customer, "value": str(value)},
            "timestamp": timestamp,
            "identifier": ident,
        }
    )


def types(fake: StripeFake, prefix: str = "") -> list[str]:
    return [e["type"] for e in fake.events() if e["type"].startswith(prefix)]


@dataclass
class Receiver:
    """A webhook endpoint that checks Stripe's signature with stripe-python itself.

    It answers 500 to the first ``fail_first`` deliveries (to exercise the fake's retries) and
    400 to a request whose signature does not verify.
    """

    secret: str
    fail_first: int = 0
    events: list[stripe.Event] = field(default_factory=list)
    rejected: int = 0
    failed: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/stripe/webhook"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def receive(self, body: bytes, signature: str) -> int:
        with self._lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                self.failed += 1
                return 500
            try:
                event = stripe.Webhook.construct_event(body, signature, self.secret)
            except stripe.SignatureVerificationError:
                self.rejected += 1
                return 400
            self.events.append(event)
            return 200

    def types(self) -> list[str]:
        with self._lock:
            return [e.type for e in self.events]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver.receive(body, self.headers.get("Stripe-Signature", ""))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler
