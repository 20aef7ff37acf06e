"""The fake's own levers, for tests (as methods) and for people and scripts (under ``/_fake/``).

None of this exists at Stripe; it stands in for the Dashboard and for time passing. The HTTP
routes take form or query parameters, answer JSON, and need no key (the fake listens on
loopback only). A form that sends ``next=/…`` is answered with a redirect there instead, which
is how the clock page's buttons work.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass

from .catalog import CARD_BEHAVIOURS, card_set_default
from .cycle import run_due
from .guards import Limits
from .pages import dashboard
from .params import Params
from .state import Json, Store, StripeError, invalid, public
from .webhooks import DEFAULT_RETRY_DELAYS, SignedRequest, Webhooks
from .wire import Reply, Request, html_reply, json_reply, redirect


@dataclass(frozen=True)
class Recorded:
    """One API request as the fake saw it: what a test asserts about headers it sent."""

    method: str
    path: str
    status: int
    stripe_version: str
    idempotency_key: str | None
    replayed: bool

    def as_json(self) -> Json:
        return dict(self.__dict__)


class Controls:
    def __init__(self, *, retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS) -> None:
        self.store = Store()
        self.webhooks = Webhooks(self.store, retry_delays=retry_delays)
        self.limits = Limits()
        self.requests: list[Recorded] = []

    # --- time ---------------------------------------------------------------------------------

    def now(self) -> int:
        return self.store.clock.now()

    def catch_up(self) -> int:
        """Does the work real time has made due (every request starts with this)."""
        with self.store.lock:
            return run_due(self.store, self.store.clock.now())

    def advance(self, seconds: int) -> int:
        """Moves the clock forward, doing every piece of billing work due on the way, in order."""
        if seconds < 0:
            raise invalid("The clock only moves forward.", param="seconds")
        with self.store.lock:
            steps = run_due(self.store, self.store.clock.now() + seconds)
            self.store.clock.advance(seconds)
            return steps + run_due(self.store, self.store.clock.now())

    # --- customers and their cards ------------------------------------------------------------

    def set_card(self, customer_id: str, behaviour: str) -> list[Json]:
        """Every card the customer has now behaves so; with no card, one is added as default."""
        if behaviour not in CARD_BEHAVIOURS:
            raise invalid(f"behaviour is one of {', '.join(CARD_BEHAVIOURS)}.", param="behaviour")
        with self.store.lock:
            customer = self.store.require(customer_id, "customer", "customer")
            cards = [c for c in self.store.all("payment_method") if c["customer"] == customer_id]
            if not cards:
                cards = [card_set_default(self.store, customer, behaviour)]
            for card in cards:
                card["_behaviour"] = behaviour
            return [public(c) for c in cards]

    # --- webhooks and events ------------------------------------------------------------------

    def add_webhook_endpoint(
        self, url: str, secret: str | None = None, enabled_events: list[str] | None = None
    ) -> Json:
        return self.webhooks.add_endpoint(url, secret, enabled_events).as_json()

    def events(self, event_type: str | None = None) -> list[Json]:
        """Every event so far, oldest first."""
        with self.store.lock:
            return [e for e in self.store.events if event_type is None or e["type"] == event_type]

    def flush_webhooks(self) -> Json:
        return self.webhooks.flush()

    def drain_webhooks(self) -> list[SignedRequest]:
        return self.webhooks.drain()

    def set_webhook_mode(self, mode: str) -> None:
        self.webhooks.set_mode(mode)

    # --- rate limits --------------------------------------------------------------------------

    def force_429(self, count: int, code: str = "rate_limit") -> None:
        with self.store.lock:
            self.limits.force(count, code)

    def set_rate_limit(self, per_second: float | None) -> None:
        with self.store.lock:
            self.limits.per_second = per_second or None

    # --- HTTP ---------------------------------------------------------------------------------

    def control(self, request: Request) -> Reply:
        path = request.path.rstrip("/") or "/_fake"
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if match and method == request.method:
                params = Params(request.params())
                try:
                    body = handler(params, *match.groups())
                except (StripeError, ValueError) as error:
                    failure = error if isinstance(error, StripeError) else invalid(str(error))
                    return json_reply(failure.status, failure.body())
                target = params.text("next")
                if target is not None and target.startswith("/") and not target.startswith("//"):
                    return redirect(target)
                return json_reply(200, body)
        if request.method == "GET" and path == "/_fake":
            with self.store.lock:
                return html_reply(200, dashboard(self.store))
        return json_reply(404, invalid(f"No fake control at {request.method} {path}.").body())

    def _routes(self) -> list[tuple[str, str, Callable[..., Json]]]:
        return [
            (
                "GET",
                "/_fake/clock",
                lambda p: {"now": self.now(), "offset": self.store.clock.offset},
            ),
            ("POST", "/_fake/clock/advance", self._advance),
            ("POST", "/_fake/customers/([^/]+)/card", self._card),
            ("GET", "/_fake/webhook_endpoints", lambda p: self._endpoints()),
            ("POST", "/_fake/webhook_endpoints", self._add_endpoint),
            ("DELETE", "/_fake/webhook_endpoints", self._clear_endpoints),
            ("POST", "/_fake/webhooks/mode", self._mode),
            ("POST", "/_fake/webhooks/flush", lambda p: self.flush_webhooks()),
            ("POST", "/_fake/webhooks/drain", lambda p: self._drain()),
            ("GET", "/_fake/webhooks/deliveries", lambda p: self._deliveries()),
            ("GET", "/_fake/events", lambda p: {"data": self.events(p.text("type"))}),
            ("POST", "/_fake/rate_limit", self._rate_limit),
            ("POST", "/_fake/force_429", self._force),
            ("GET", "/_fake/requests", lambda p: {"data": [r.as_json() for r in self.requests]}),
        ]

    def _advance(self, params: Params) -> Json:
        seconds = params.integer("seconds", required=True) or 0
        return {"steps": self.advance(seconds), "now": self.now()}

    def _card(self, params: Params, customer_id: str) -> Json:
        return {"data": self.set_card(customer_id, params.need("behaviour"))}

    def _endpoints(self) -> Json:
        return {"data": [e.as_json() for e in self.webhooks.endpoints]}

    def _add_endpoint(self, params: Params) -> Json:
        events = params.strings("enabled_events") or None
        return self.add_webhook_endpoint(params.need("url"), params.text("secret"), events)

    def _clear_endpoints(self, params: Params) -> Json:
        count = len(self.webhooks.endpoints)
        self.webhooks.clear_endpoints()
        return {"deleted": count}

    def _mode(self, params: Params) -> Json:
        self.set_webhook_mode(params.need("mode", choices=("background", "manual")))
        return {"mode": self.webhooks.mode}

    def _drain(self) -> Json:
        return {"data": [r.as_json() for r in self.drain_webhooks()]}

    def _deliveries(self) -> Json:
        return {"data": [d.as_json() for d in list(self.webhooks.deliveries)]}

    def _rate_limit(self, params: Params) -> Json:
        value = params.text("per_second")
        try:
            per_second = float(value) if value else None
        except ValueError:
            raise invalid(f"Invalid number: {value}", param="per_second") from None
        self.set_rate_limit(per_second)
        return {"per_second": self.limits.per_second}

    def _force(self, params: Params) -> Json:
        count = params.integer("count", minimum=1) or 1
        code = params.text("code", choices=("rate_limit", "lock_timeout")) or "rate_limit"
        self.force_429(count, code)
        return {"queued": len(self.limits.forced)}
