"""Webhook endpoints, Stripe's signature, and delivery: background, flushed, or handed over.

Each event becomes one delivery per endpoint that wants its type; the body is frozen when the
event is made. Delivery keeps each endpoint's events in order: a failing event is retried on
``retry_delays`` before the ones after it go, and given up after the last delay (Stripe retries
for three days; the delays are short here so tests do not wait).

Three ways to receive them:
- ``background`` (default): a thread POSTs them as they come;
- ``flush()``: the caller's thread POSTs everything pending now, in order, and returns;
- ``manual`` mode plus ``drain()``: nothing is sent; the test takes the signed requests and
  replays them itself, duplicated or shuffled, to prove its receiver copes.

The signature is Stripe's v1 scheme: ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
"<t>.<body>" keyed with the endpoint secret>``. ``t`` is the real time of signing, not the fake
clock's: receivers check it against their own clock with a 5-minute tolerance.
"""

import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field

import httpx

from .state import API_VERSION, Json, Store, new_id

DEFAULT_RETRY_DELAYS = (0.5, 2.0, 10.0, 60.0)
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


@dataclass
class Endpoint:
    url: str
    secret: str
    enabled_events: list[str] = field(default_factory=lambda: ["*"])
    id: str = field(default_factory=lambda: new_id("we"))

    def wants(self, event_type: str) -> bool:
        return "*" in self.enabled_events or event_type in self.enabled_events

    def as_json(self) -> Json:
        return {
            "id": self.id,
            "object": "webhook_endpoint",
            "api_version": API_VERSION,
            "enabled_events": self.enabled_events,
            "livemode": False,
            "secret": self.secret,
            "status": "enabled",
            "url": self.url,
        }


@dataclass
class Delivery:
    event_id: str
    event_type: str
    body: bytes
    endpoint: Endpoint
    status: str = "pending"  # pending | delivered | failed | drained
    attempts: int = 0
    next_at: float = 0.0
    responses: list[str] = field(default_factory=list)

    def as_json(self) -> Json:
        return {
            "event": self.event_id,
            "type": self.event_type,
            "endpoint": self.endpoint.id,
            "url": self.endpoint.url,
            "status": self.status,
            "attempts": self.attempts,
            "responses": self.responses,
        }


@dataclass(frozen=True)
class SignedRequest:
    """A webhook POST, ready to send: a test can replay it as often and in any order it likes."""

    url: str
    headers: dict[str, str]
    body: bytes

    def as_json(self) -> Json:
        return {"url": self.url, "headers": self.headers, "body": self.body.decode()}


def signature_header(body: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def sign(delivery: Delivery) -> SignedRequest:
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "Stripe-Signature": signature_header(
            delivery.body, delivery.endpoint.secret, int(time.time())
        ),
    }
    return SignedRequest(delivery.endpoint.url, headers, delivery.body)


class Webhooks:
    """Listens to the store's events and delivers them to the configured endpoints."""

    def __init__(
        self, store: Store, *, retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    ) -> None:
        self.retry_delays = retry_delays
        self.mode = "background"
        self.endpoints: list[Endpoint] = []
        self.deliveries: list[Delivery] = []
        self._changed = threading.Condition()
        # One POST at a time, whichever thread sends it: no delivery is ever sent twice at once.
        self._sending = threading.Lock()
        self._stopping = False
        # Made on the first delivery: loading the CA bundle costs more than a test's whole fake.
        self._http: httpx.Client | None = None
        self._thread = threading.Thread(target=self._run, name="stripe-fake-webhooks", daemon=True)
        store.event_listeners.append(self._enqueue)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._http is not None:
            self._http.close()

    def add_endpoint(
        self, url: str, secret: str | None = None, enabled_events: list[str] | None = None
    ) -> Endpoint:
        endpoint = Endpoint(url, secret or "whsec_" + secrets.token_hex(24))
        if enabled_events:
            endpoint.enabled_events = enabled_events
        with self._changed:
            self.endpoints.append(endpoint)
        return endpoint

    def clear_endpoints(self) -> None:
        with self._changed:
            self.endpoints.clear()

    def set_mode(self, mode: str) -> None:
        if mode not in ("background", "manual"):
            raise ValueError("Webhook delivery mode is 'background' or 'manual'.")
        with self._changed:
            self.mode = mode
            self._changed.notify_all()

    def _enqueue(self, event: Json) -> None:
        with self._changed:
            wanting = [e for e in self.endpoints if e.wants(event["type"])]
            event["pending_webhooks"] = len(wanting)
            if not wanting:
                return
            body = json.dumps(event, indent=2).encode()
            for endpoint in wanting:
                self.deliveries.append(Delivery(event["id"], event["type"], body, endpoint))
            self._changed.notify_all()

    def drain(self) -> list[SignedRequest]:
        """Hands every pending delivery over, signed, instead of sending it."""
        with self._changed:
            taken = [d for d in self.deliveries if d.status == "pending"]
            for delivery in taken:
                delivery.status = "drained"
        return [sign(d) for d in taken]

    def flush(self) -> Json:
        """Sends what is pending now, in order, once each; a failure stops its endpoint's turn."""
        counts = {"delivered": 0, "failed": 0}
        blocked: set[str] = set()
        while True:
            with self._changed:
                delivery = next(
                    (
                        d
                        for d in self.deliveries
                        if d.status == "pending" and d.endpoint.id not in blocked
                    ),
                    None,
                )
            if delivery is None:
                break
            if self._send(delivery):
                counts["delivered"] += 1
            else:
                counts["failed"] += 1
                blocked.add(delivery.endpoint.id)
        with self._changed:
            counts["pending"] = sum(d.status == "pending" for d in self.deliveries)
        return dict(counts)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """True once nothing is pending (background mode); False if ``timeout`` ran out first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while any(d.status == "pending" for d in self.deliveries):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def _send(self, delivery: Delivery) -> bool:
        with self._sending:
            if delivery.status != "pending":
                return delivery.status == "delivered"
            request = sign(delivery)
            if self._http is None:
                self._http = httpx.Client(timeout=5.0)
            try:
                response = self._http.post(
                    request.url, content=request.body, headers=request.headers
                )
                outcome, ok = str(response.status_code), response.is_success
            except httpx.HTTPError as error:
                outcome, ok = type(error).__name__, False
            with self._changed:
                delivery.attempts += 1
                delivery.responses.append(outcome)
                if ok:
                    delivery.status = "delivered"
                elif delivery.attempts > len(self.retry_delays):
                    delivery.status = "failed"
                else:
                    delay = self.retry_delays[delivery.attempts - 1]
                    delivery.next_at = time.monotonic() + delay
                self._changed.notify_all()
            return ok

    def _next_due(self) -> tuple[Delivery | None, float]:
        """The first pending delivery of each endpoint, if its retry time has come."""
        now = time.monotonic()
        wait = 1.0
        seen: set[str] = set()
        for delivery in self.deliveries:
            if delivery.status != "pending" or delivery.endpoint.id in seen:
                continue
            seen.add(delivery.endpoint.id)
            if delivery.next_at <= now:
                return delivery, 0.0
            wait = min(wait, delivery.next_at - now)
        return None, wait

    def _run(self) -> None:
        while True:
            with self._changed:
                if self._stopping:
                    return
                delivery, wait = (None, 1.0) if self.mode == "manual" else self._next_due()
                if delivery is None:
                    self._changed.wait(wait)
                    continue
            self._send(delivery)
