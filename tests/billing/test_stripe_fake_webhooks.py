"""Webhooks: Stripe's signature, verified by stripe-python; in order; retried; handed over."""

import json
import random
import time

import httpx
import pytest
import stripe
from stripe import StripeClient

from billing.stripe_fake import StripeFake, signature_header

from .support import DAY, Catalog, Receiver, browser, checkout

SECRET = "whsec_test_secret_for_the_fake"


def test_events_arrive_signed_in_order_from_the_background(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    with Receiver(SECRET) as receiver:
        stripe_fake.add_webhook_endpoint(receiver.url, SECRET)
        before = len(stripe_fake.events())
        _, sub = checkout(stripe_client, catalog)
        assert stripe_fake.webhooks.wait_idle(timeout=5)
        sent = [e["type"] for e in stripe_fake.events()[before:]]
        assert receiver.types() == sent
        assert "customer.subscription.created" in sent
        assert receiver.rejected == 0

    completed = next(e for e in receiver.events if e.type == "checkout.session.completed")
    assert completed.api_version == stripe.api_version
    assert completed.livemode is False
    assert completed.data.object["subscription"] == sub.id
    assert completed.request is not None
    assert completed.request.id is None  # a person on a hosted page, not an API request


def test_a_failing_endpoint_is_retried_without_reordering(
    stripe_fake: StripeFake, stripe_client: StripeClient
) -> None:
    with Receiver(SECRET, fail_first=2) as receiver:
        stripe_fake.add_webhook_endpoint(receiver.url, SECRET)
        first = stripe_client.v1.customers.create(params={"email": "a@alice.example"})
        second = stripe_client.v1.customers.create(params={"email": "b@alice.example"})
        assert stripe_fake.webhooks.wait_idle(timeout=5)
        received = [e.data.object["id"] for e in receiver.events]
    assert received == [first.id, second.id]
    assert receiver.failed == 2
    deliveries = browser().get(f"{stripe_fake.url}/_fake/webhooks/deliveries").json()["data"]
    assert [(d["status"], d["responses"]) for d in deliveries] == [
        ("delivered", ["500", "500", "200"]),
        ("delivered", ["200"]),
    ]


def test_an_endpoint_that_never_answers_is_given_up(stripe_fake: StripeFake) -> None:
    with Receiver(SECRET, fail_first=10) as receiver:
        stripe_fake.add_webhook_endpoint(receiver.url, SECRET)
        browser().post(
            f"{stripe_fake.url}/v1/customers",
            data={"email": "a@alice.example"},
            auth=("sk_test_x", ""),
        )
        deadline = time.monotonic() + 5
        while (
            stripe_fake.webhooks.deliveries[0].status == "pending" and time.monotonic() < deadline
        ):
            time.sleep(0.02)
    (delivery,) = stripe_fake.webhooks.deliveries
    assert (delivery.status, delivery.attempts) == ("failed", 3)  # once, then two retries


def test_an_unreachable_endpoint_counts_as_a_failed_attempt(
    stripe_fake: StripeFake, stripe_client: StripeClient
) -> None:
    stripe_fake.set_webhook_mode("manual")
    with Receiver(SECRET) as gone:
        url = gone.url  # a port that was listening, now closed
    stripe_fake.add_webhook_endpoint(url, SECRET)
    stripe_client.v1.customers.create(params={"email": "a@alice.example"})
    assert stripe_fake.flush_webhooks() == {"delivered": 0, "failed": 1, "pending": 1}
    (delivery,) = stripe_fake.webhooks.deliveries
    assert delivery.responses == ["ConnectError"]


def test_flush_delivers_now_and_stops_at_a_failure(
    stripe_fake: StripeFake, stripe_client: StripeClient
) -> None:
    stripe_fake.set_webhook_mode("manual")
    with Receiver(SECRET, fail_first=1) as receiver:
        stripe_fake.add_webhook_endpoint(receiver.url, SECRET)
        stripe_client.v1.customers.create(params={"email": "a@alice.example"})
        stripe_client.v1.customers.create(params={"email": "b@alice.example"})
        assert stripe_fake.flush_webhooks() == {"delivered": 0, "failed": 1, "pending": 2}
        assert stripe_fake.flush_webhooks() == {"delivered": 2, "failed": 0, "pending": 0}
    assert receiver.types() == ["customer.created", "customer.created"]


def test_drained_requests_verify_and_can_be_replayed_in_any_order(
    stripe_fake: StripeFake, stripe_client: StripeClient, catalog: Catalog
) -> None:
    stripe_fake.set_webhook_mode("manual")
    stripe_fake.add_webhook_endpoint("http://127.0.0.1:9/never-called", SECRET)
    _, sub = checkout(stripe_client, catalog, trial_days=1)
    stripe_fake.advance(DAY + 3600)
    signed = stripe_fake.drain_webhooks()
    assert stripe_fake.drain_webhooks() == []
    replay = signed + signed[:3]
    random.Random(7).shuffle(replay)

    with Receiver(SECRET) as receiver, httpx.Client() as http:
        for request in replay:
            answer = http.post(receiver.url, content=request.body, headers=request.headers)
            assert answer.status_code == 200
        tampered = signed[0].body.replace(b'"livemode": false', b'"livemode": true')
        assert (
            http.post(receiver.url, content=tampered, headers=signed[0].headers).status_code == 400
        )
    assert len(receiver.events) == len(replay)
    assert len({e.id for e in receiver.events}) == len(signed)
    renewal_paid = [e for e in receiver.events if e.type == "invoice.paid"]
    assert any(e.data.object["billing_reason"] == "subscription_cycle" for e in renewal_paid)
    automatic = next(e for e in receiver.events if e.type == "customer.subscription.updated")
    assert automatic.request is not None
    assert automatic.request.id is None  # the clock did it, not a request
    assert sub.id in {e.data.object.id for e in receiver.events}


def test_the_signature_is_stripes_v1_scheme() -> None:
    body = b'{"id": "evt_1", "object": "event"}'
    header = signature_header(body, SECRET, 1_700_000_000)
    timestamp, _, signature = header.partition(",")
    assert timestamp == "t=1700000000"
    expected = stripe.WebhookSignature._compute_signature(f"1700000000.{body.decode()}", SECRET)
    assert signature == f"v1={expected}"
    stripe.WebhookSignature.verify_header(body, header, SECRET, tolerance=None)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body, header, "whsec_other", tolerance=None)


def test_an_endpoint_gets_only_the_events_it_asked_for(
    stripe_fake: StripeFake, stripe_client: StripeClient
) -> None:
    stripe_fake.set_webhook_mode("manual")
    stripe_fake.add_webhook_endpoint("http://127.0.0.1:9/x", SECRET, ["customer.updated"])
    customer = stripe_client.v1.customers.create(params={"email": "a@alice.example"})
    stripe_client.v1.customers.update(customer.id, params={"name": "Alice"})
    (only,) = stripe_fake.drain_webhooks()
    event = json.loads(only.body)
    assert event["type"] == "customer.updated"
    assert event["data"]["previous_attributes"] == {"name": None}
    assert stripe_fake.events("customer.created")[0]["pending_webhooks"] == 0


def test_events_are_listed_by_the_api_too(
    stripe_fake: StripeFake, stripe_client: StripeClient
) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "a@alice.example"})
    stripe_client.v1.customers.update(
        customer.id, params={"name": "Alice"}, options={"idempotency_key": "rename-1"}
    )
    listed = stripe_client.v1.events.list(params={"type": "customer.updated"}).data
    assert [e.type for e in listed] == ["customer.updated"]
    assert listed[0].request is not None
    assert listed[0].request.id is not None
    assert listed[0].request.idempotency_key == "rename-1"
    assert stripe_client.v1.events.retrieve(listed[0].id).data.object["name"] == "Alice"
    newest_first = [e.type for e in stripe_client.v1.events.list().data]
    assert newest_first == ["customer.updated", "customer.created"]
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.events.retrieve("evt_nothing")
