"""Stripe event objects: what changed, as a snapshot, with the attributes it had before.

Every state change in the fake goes through ``emit`` (or ``observed`` for updates), so the event
log is the complete, ordered story of the account; webhook delivery listens to it. Events carry
the fake clock's ``created`` and the request that caused them (``request.id`` and its
``idempotency_key``), or ``null`` for work the clock did on its own, as Stripe's do.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from .state import API_VERSION, Json, Store, new_id, snapshot


def emit(store: Store, event_type: str, obj: Json, previous: Json | None = None) -> Json:
    data: Json = {"object": snapshot(obj)}
    if previous is not None:
        data["previous_attributes"] = previous
    event: Json = {
        "id": new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": store.now,
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": store.request_id, "idempotency_key": store.idempotency_key},
        "type": event_type,
    }
    store.events.append(event)
    for listener in store.event_listeners:
        listener(event)
    return event


def changed_attributes(before: Json, after: Json) -> Json:
    """Stripe's ``previous_attributes``: the old value of every top-level field that changed."""
    keys = [*before, *(k for k in after if k not in before)]
    return {key: before.get(key) for key in keys if before.get(key) != after.get(key)}


@contextmanager
def observed(store: Store, obj: Json, event_type: str) -> Iterator[None]:
    """Emits ``event_type`` after the block if the object changed; silent when nothing did."""
    before = snapshot(obj)
    yield
    previous = changed_attributes(before, snapshot(obj))
    if previous:
        emit(store, event_type, obj, previous)
