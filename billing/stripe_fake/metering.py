"""Billing meters, meter events and their summaries: the usage side of usage-based billing.

What Stripe enforces on ``POST /v1/billing/meter_events``, and so does the fake:
- an ``identifier`` already accepted in the last 24 hours is refused: 400
  ``invalid_request_error`` "An event already exists with identifier …", with
  ``Stripe-Should-Retry: false``. After 24 hours the same identifier is accepted again and
  counted again, which is why our own usage ledger must dedupe before it reports;
- ``timestamp`` must lie within the past 35 days and at most 5 minutes ahead: 400 with code
  ``timestamp_too_far_in_past`` or ``timestamp_in_future`` (the codes Stripe's meter error
  reports use).

Stripe validates the payload itself asynchronously (a v2 ``error_report_triggered`` event); the
fake accepts any payload with the customer key and skips values that are not numbers when it
aggregates, the same outcome without the report.
"""

import hashlib
from decimal import Decimal, InvalidOperation

from .params import Params
from .state import DAY, HOUR, Json, Store, StripeError, invalid, list_object, new_id

IDENTIFIER_WINDOW = DAY
PAST_LIMIT = 35 * DAY
FUTURE_LIMIT = 5 * 60
FORMULAS = ("sum", "count", "last")


def meter_create(store: Store, params: Params) -> Json:
    params.only(
        (
            "display_name",
            "event_name",
            "default_aggregation",
            "customer_mapping",
            "value_settings",
            "event_time_window",
        )
    )
    event_name = params.need("event_name")
    if any(
        m["event_name"] == event_name and m["status"] == "active"
        for m in store.all("billing.meter")
    ):
        raise invalid(
            f"An active meter with event_name `{event_name}` already exists.", param="event_name"
        )
    aggregation = params.sub("default_aggregation")
    if aggregation is None:
        raise StripeError(
            400,
            "Missing required param: default_aggregation.",
            code="parameter_missing",
            param="default_aggregation",
        )
    mapping = params.sub("customer_mapping")
    value_settings = params.sub("value_settings")
    meter: Json = {
        "id": new_id("mtr"),
        "object": "billing.meter",
        "created": store.now,
        "customer_mapping": {
            "event_payload_key": (mapping.text("event_payload_key") if mapping else None)
            or "stripe_customer_id",
            "type": (mapping.text("type", choices=("by_id",)) if mapping else None) or "by_id",
        },
        "default_aggregation": {"formula": aggregation.need("formula", choices=FORMULAS)},
        "display_name": params.need("display_name"),
        "event_name": event_name,
        "event_time_window": params.text("event_time_window", choices=("day", "hour")),
        "livemode": False,
        "status": "active",
        "status_transitions": {"deactivated_at": None},
        "updated": store.now,
        "value_settings": {
            "event_payload_key": (
                value_settings.text("event_payload_key") if value_settings else None
            )
            or "value"
        },
    }
    return store.add(meter)


def _check_timestamp(store: Store, timestamp: int) -> None:
    if timestamp < store.now - PAST_LIMIT:
        raise invalid(
            f"Timestamp {timestamp} is too far in the past: meter events must be within the "
            "past 35 days.",
            param="timestamp",
            code="timestamp_too_far_in_past",
        )
    if timestamp > store.now + FUTURE_LIMIT:
        raise invalid(
            f"Timestamp {timestamp} is in the future: meter events may be at most 5 minutes ahead.",
            param="timestamp",
            code="timestamp_in_future",
        )


def _check_identifier(store: Store, identifier: str) -> None:
    horizon = store.now - IDENTIFIER_WINDOW
    for seen, at in list(store.meter_identifiers.items()):
        if at <= horizon:
            del store.meter_identifiers[seen]
    if identifier in store.meter_identifiers:
        raise StripeError(
            400,
            f"An event already exists with identifier {identifier}.",
            code="resource_already_exists",
            param="identifier",
            headers={"Stripe-Should-Retry": "false"},
        )


def meter_event_create(store: Store, params: Params) -> Json:
    params.only(("event_name", "payload", "identifier", "timestamp"))
    event_name = params.need("event_name")
    payload = params.metadata("payload")
    if not payload:
        raise StripeError(
            400, "Missing required param: payload.", code="parameter_missing", param="payload"
        )
    meter = next((m for m in store.all("billing.meter") if m["event_name"] == event_name), None)
    customer_key = meter["customer_mapping"]["event_payload_key"] if meter else "stripe_customer_id"
    if customer_key not in payload:
        raise invalid(
            f"The payload must contain the customer key `{customer_key}`.",
            param=f"payload[{customer_key}]",
        )
    timestamp = params.integer("timestamp")
    timestamp = store.now if timestamp is None else timestamp
    _check_timestamp(store, timestamp)
    identifier = params.text("identifier") or new_id("mev")
    if len(identifier) > 100:
        raise invalid("The identifier must be at most 100 characters.", param="identifier")
    _check_identifier(store, identifier)
    store.meter_identifiers[identifier] = store.now
    event: Json = {
        "object": "billing.meter_event",
        "created": store.now,
        "event_name": event_name,
        "identifier": identifier,
        "livemode": False,
        "payload": payload,
        "timestamp": timestamp,
    }
    store.meter_events.append(event)
    return event


def _value(event: Json, key: str) -> Decimal | None:
    try:
        value = Decimal(str(event["payload"].get(key)))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def usage(store: Store, meter: Json, customer_id: str, start: int, end: int) -> Decimal:
    """The meter's aggregate for one customer over [start, end), by the meter's formula."""
    customer_key = meter["customer_mapping"]["event_payload_key"]
    value_key = meter["value_settings"]["event_payload_key"]
    events = [
        e
        for e in store.meter_events
        if e["event_name"] == meter["event_name"]
        and e["payload"].get(customer_key) == customer_id
        and start <= e["timestamp"] < end
    ]
    formula = meter["default_aggregation"]["formula"]
    if formula == "count":
        return Decimal(len(events))
    values = [(e["timestamp"], v) for e in events if (v := _value(e, value_key)) is not None]
    if formula == "last":
        return max(values, key=lambda pair: pair[0])[1] if values else Decimal(0)
    return sum((v for _, v in values), Decimal(0))


def _aligned(params: Params, key: str, step: int, unit: str) -> int:
    value = params.integer(key, required=True)
    if value is None or value % step:
        raise invalid(f"{key} must be aligned to {unit} boundaries.", param=key)
    return value


def summaries(store: Store, meter: Json, params: Params) -> Json:
    params.only(
        ("customer", "start_time", "end_time", "value_grouping_window", "limit", "starting_after")
    )
    customer = params.need("customer")
    window = params.text("value_grouping_window", choices=("hour", "day"))
    step, unit = {"hour": (HOUR, "hour"), "day": (DAY, "day")}.get(window or "", (60, "minute"))
    start = _aligned(params, "start_time", step, unit)
    end = _aligned(params, "end_time", step, unit)
    if end <= start:
        raise invalid("end_time must be after start_time.", param="end_time")
    edges = list(range(start, end, step)) if window else [start]
    rows = []
    for begin in edges:
        finish = min(begin + step, end) if window else end
        key = f"{meter['id']}:{customer}:{begin}:{finish}".encode()
        rows.append(
            {
                "id": "mtrsum_" + hashlib.sha256(key).hexdigest()[:24],
                "object": "billing.meter_event_summary",
                "aggregated_value": float(usage(store, meter, customer, begin, finish)),
                "end_time": finish,
                "livemode": False,
                "meter": meter["id"],
                "start_time": begin,
            }
        )
    return list_object(
        rows,
        url=f"/v1/billing/meters/{meter['id']}/event_summaries",
        limit=params.integer("limit", minimum=1) or 10,
        starting_after=params.text("starting_after"),
    )
