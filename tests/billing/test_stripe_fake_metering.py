"""Meters and meter events: the rules our usage reporting has to live with."""

import pytest
import stripe
from stripe import StripeClient

from billing.stripe_fake import StripeFake

from .support import DAY, HOUR, Catalog, report


@pytest.fixture
def customer(stripe_client: StripeClient) -> str:
    return stripe_client.v1.customers.create(params={"email": "owner@alice.example"}).id


def _summary(client: StripeClient, meter: str, customer: str, start: int, end: int) -> float:
    (summary,) = client.v1.billing.meters.event_summaries.list(
        meter, params={"customer": customer, "start_time": start, "end_time": end}
    ).data
    return summary.aggregated_value


def test_meters_are_created_listed_and_unique_by_event_name(
    stripe_client: StripeClient, catalog: Catalog
) -> None:
    meter = stripe_client.v1.billing.meters.retrieve(catalog.meter.id)
    assert meter.customer_mapping.event_payload_key == "stripe_customer_id"
    assert meter.value_settings.event_payload_key == "value"
    assert meter.default_aggregation.formula == "sum"
    listed = stripe_client.v1.billing.meters.list(params={"status": "active"}).data
    assert [m.id for m in listed] == [meter.id]
    with pytest.raises(stripe.InvalidRequestError, match="already exists"):
        stripe_client.v1.billing.meters.create(
            params={
                "display_name": "Again",
                "event_name": "signups",
                "default_aggregation": {"formula": "sum"},
            }
        )


def test_an_identifier_is_refused_for_24_hours_then_accepted_and_counted_again(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog, customer: str
) -> None:
    at = stripe_fake.now() - 60
    report(stripe_client, customer, 5, at, "alice-2024-06-01")
    with pytest.raises(stripe.InvalidRequestError) as duplicate:
        report(stripe_client, customer, 5, at, "alice-2024-06-01")
    assert duplicate.value.http_status == 400
    assert duplicate.value.code == "resource_already_exists"
    assert "An event already exists with identifier alice-2024-06-01" in str(duplicate.value)
    assert duplicate.value.headers is not None
    assert duplicate.value.headers["Stripe-Should-Retry"] == "false"

    stripe_fake.advance(25 * HOUR)
    report(stripe_client, customer, 5, at, "alice-2024-06-01")  # Stripe forgot: counted twice
    start = at - at % 60
    assert _summary(stripe_client, catalog.meter.id, customer, start, start + 60) == 10.0


def test_a_timestamp_outside_35_days_back_or_5_minutes_ahead_is_refused(
    stripe_fake: StripeFake, stripe_client: StripeClient, customer: str
) -> None:
    now = stripe_fake.now()
    with pytest.raises(stripe.InvalidRequestError, match="past 35 days") as old:
        report(stripe_client, customer, 1, now - 36 * DAY, "old")
    assert old.value.code == "timestamp_too_far_in_past"
    with pytest.raises(stripe.InvalidRequestError, match="5 minutes ahead") as ahead:
        report(stripe_client, customer, 1, now + 10 * 60, "ahead")
    assert ahead.value.code == "timestamp_in_future"
    report(stripe_client, customer, 1, now - 34 * DAY, "just-in-time")
    report(stripe_client, customer, 1, now + 4 * 60, "just-ahead")


def test_event_summaries_sum_a_customers_events_in_the_window(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog, customer: str
) -> None:
    hour = stripe_fake.now() // HOUR * HOUR - 2 * HOUR
    other = stripe_client.v1.customers.create(params={"email": "bob@alice.example"}).id
    report(stripe_client, customer, 3, hour + 10, "a")
    report(stripe_client, customer, 4, hour + HOUR + 10, "b")
    report(stripe_client, other, 100, hour + 20, "c")
    stripe_client.v1.billing.meter_events.create(
        params={"event_name": "signups", "payload": {"stripe_customer_id": customer, "value": "x"}}
    )
    mine = _summary(stripe_client, catalog.meter.id, customer, hour, hour + 2 * HOUR)
    assert mine == 7.0  # the value that is not a number counts for nothing

    hourly = stripe_client.v1.billing.meters.event_summaries.list(
        catalog.meter.id,
        params={
            "customer": customer,
            "start_time": hour,
            "end_time": hour + 2 * HOUR,
            "value_grouping_window": "hour",
        },
    ).data
    assert [(s.start_time, s.end_time, s.aggregated_value) for s in hourly] == [
        (hour, hour + HOUR, 3.0),
        (hour + HOUR, hour + 2 * HOUR, 4.0),
    ]
    with pytest.raises(stripe.InvalidRequestError, match="aligned to minute"):
        _summary(stripe_client, catalog.meter.id, customer, hour + 1, hour + HOUR)
    with pytest.raises(stripe.InvalidRequestError, match="aligned to hour"):
        stripe_client.v1.billing.meters.event_summaries.list(
            catalog.meter.id,
            params={
                "customer": customer,
                "start_time": hour + 60,
                "end_time": hour + HOUR,
                "value_grouping_window": "hour",
            },
        )


def test_a_count_meter_counts_events_and_a_mapped_payload_key_is_required(
    stripe_fake: StripeFake, stripe_client: StripeClient, customer: str
) -> None:
    meter = stripe_client.v1.billing.meters.create(
        params={
            "display_name": "Logins",
            "event_name": "logins",
            "default_aggregation": {"formula": "count"},
            "customer_mapping": {"event_payload_key": "account", "type": "by_id"},
        }
    )
    now = stripe_fake.now()
    for n in range(3):
        stripe_client.v1.billing.meter_events.create(
            params={"event_name": "logins", "payload": {"account": customer}, "identifier": f"l{n}"}
        )
    # Minute-aligned, and early enough for the seats' events ten seconds back.
    start = (now - 10) - (now - 10) % 60
    assert _summary(stripe_client, meter.id, customer, start, start + 180) == 3.0

    seats = stripe_client.v1.billing.meters.create(
        params={
            "display_name": "Seats",
            "event_name": "seats",
            "default_aggregation": {"formula": "last"},
        }
    )
    for n, value in enumerate(("4", "7", "5")):
        stripe_client.v1.billing.meter_events.create(
            params={
                "event_name": "seats",
                "payload": {"stripe_customer_id": customer, "value": value},
                "timestamp": now - 10 + n,
            }
        )
    assert _summary(stripe_client, seats.id, customer, start, start + 180) == 5.0
    assert _summary(stripe_client, seats.id, "cus_nobody", start, start + 180) == 0.0
    with pytest.raises(stripe.InvalidRequestError, match="customer key `account`"):
        stripe_client.v1.billing.meter_events.create(
            params={"event_name": "logins", "payload": {"stripe_customer_id": customer}}
        )
