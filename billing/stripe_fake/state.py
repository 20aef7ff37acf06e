"""The fake's memory: one store of Stripe objects behind one lock, its clock, its ids and errors.

Every object is kept as the JSON dict Stripe would send, so answering a request is a copy, not a
translation. What Stripe keeps private (a card's behaviour, the tiers a price only shows when
expanded, the subscription's billing period) lives under keys that start with ``_``; ``public``
drops them from anything that leaves the fake.

One re-entrant lock guards everything: an API call, a page submit, a clock move and the billing
work it triggers each run whole under it, so two requests never see half a state change and the
same idempotency key can never run twice concurrently.
"""

import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

Json = dict[str, Any]

#: The API version stripe-python 16.1 pins (``stripe.api_version``); a test keeps them in step.
API_VERSION = "2026-10-28.endive"
DAY = 86_400
HOUR = 3_600

_ID_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """Stripe-looking ids (``cus_…``); random, so ids from two fakes or two runs never collide."""
    return prefix + "_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


class StripeError(Exception):
    """An answer in Stripe's error shape: raised anywhere, made the HTTP reply at the edge."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        extra: Json | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self) -> Json:
        error: Json = {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
        }
        error.update(self.extra)
        return {"error": error}


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(400, message, param=param, code=code)


def missing(noun: str, object_id: str, *, param: str = "id") -> StripeError:
    """Stripe answers 404 for an unknown id in the URL, 400 for one named in the parameters."""
    status = 404 if param == "id" else 400
    return StripeError(
        status, f"No such {noun}: '{object_id}'", code="resource_missing", param=param
    )


class Clock:
    """Real time plus an offset that only grows: tests and people move it, nobody winds it back."""

    def __init__(self) -> None:
        self.offset = 0

    def now(self) -> int:
        return int(time.time()) + self.offset

    def advance(self, seconds: int) -> None:
        if seconds < 0:
            raise ValueError("The fake's clock only moves forward.")
        self.offset += seconds


def public(value: Any) -> Any:
    """A deep copy without the fake's private keys: what a client or an event may see."""
    if isinstance(value, dict):
        return {k: public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [public(v) for v in value]
    return value


class Store:
    """All objects by id, in creation order, plus the few indexes the API needs."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock = Clock()
        #: The time billing work runs at: the clock's time, or a due time while catching up.
        self.now = self.clock.now()
        self.objects: dict[str, Json] = {}
        self.events: list[Json] = []
        self.event_listeners: list[Callable[[Json], None]] = []
        self.meter_events: list[Json] = []
        #: Meter event identifier -> when it was accepted (for the 24 h uniqueness window).
        self.meter_identifiers: dict[str, int] = {}
        self.invoice_numbers = 0
        #: Where the hosted pages are (``http://127.0.0.1:<port>``), set when the server starts.
        self.base_url = ""
        #: The request being served, named in the events it causes (``event.request``).
        self.request_id: str | None = None
        self.idempotency_key: str | None = None

    def add(self, obj: Json) -> Json:
        self.objects[obj["id"]] = obj
        return obj

    def get(self, object_id: str, kind: str) -> Json | None:
        obj = self.objects.get(object_id)
        if obj is None or obj.get("object") != kind:
            return None
        return obj

    def require(self, object_id: str, kind: str, noun: str, *, param: str = "id") -> Json:
        obj = self.get(object_id, kind)
        if obj is None:
            raise missing(noun, object_id, param=param)
        return obj

    def all(self, kind: str) -> list[Json]:
        """Newest first, as every Stripe list answers."""
        return [obj for obj in reversed(self.objects.values()) if obj.get("object") == kind]

    def next_invoice_number(self) -> str:
        self.invoice_numbers += 1
        return f"FAKE-{self.invoice_numbers:04d}"


def list_object(items: Iterable[Json], *, url: str, limit: int, starting_after: str | None) -> Json:
    """Stripe's list envelope with cursor paging over items already in the answer's order.

    The rows stay the stored objects; the API edge renders them (``public`` and ``expand``).
    """
    rows = list(items)
    if starting_after is not None:
        ids = [row.get("id") for row in rows]
        if starting_after not in ids:
            raise invalid(f"No such object: '{starting_after}'", param="starting_after")
        rows = rows[ids.index(starting_after) + 1 :]
    page = rows[:limit]
    return {
        "object": "list",
        "data": page,
        "has_more": len(rows) > limit,
        "url": url,
    }


def snapshot(obj: Json) -> Json:
    """What an event carries: the public object as it is now (``public`` copies every level)."""
    frozen: Json = public(obj)
    return frozen
