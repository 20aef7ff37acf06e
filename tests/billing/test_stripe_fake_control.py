"""The fake's own levers over HTTP (``/_fake/…``), its clock page, and running it on its own."""

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
import stripe
from stripe import StripeClient

from billing.stripe_fake import StripeFake

from .support import DAY, HOUR, Catalog, Receiver, catalog_create, checkout, session_create

SECRET = "whsec_control_test"


@pytest.fixture
def http(stripe_fake: StripeFake) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stripe_fake.url) as client:
        yield client


def test_the_clock_is_read_and_moved_over_http(stripe_fake: StripeFake, http: httpx.Client) -> None:
    before = http.get("/_fake/clock").json()
    assert before["offset"] == 0
    moved = http.post("/_fake/clock/advance", data={"seconds": str(HOUR)}).json()
    assert moved["now"] >= before["now"] + HOUR
    assert stripe_fake.store.clock.offset == HOUR
    backwards = http.post("/_fake/clock/advance", data={"seconds": "-5"})
    assert backwards.status_code == 400
    assert "only moves forward" in backwards.json()["error"]["message"]
    form = http.post("/_fake/clock/advance", data={"seconds": "60", "next": "/_fake/"})
    assert (form.status_code, form.headers["Location"]) == (303, "/_fake/")


def test_a_customers_card_is_set_over_http(stripe_client: StripeClient, http: httpx.Client) -> None:
    customer = stripe_client.v1.customers.create(params={"email": "owner@alice.example"})
    set_ = http.post(f"/_fake/customers/{customer.id}/card", data={"behaviour": "declines"})
    (card,) = set_.json()["data"]
    assert card["card"]["last4"] == "0341"
    assert "_behaviour" not in card
    again = http.post(f"/_fake/customers/{customer.id}/card", data={"behaviour": "succeeds"})
    assert [c["id"] for c in again.json()["data"]] == [card["id"]]  # the same card, now good
    assert (
        http.post(f"/_fake/customers/{customer.id}/card", data={"behaviour": "x"}).status_code
        == 400
    )
    assert (
        http.post("/_fake/customers/cus_nobody/card", data={"behaviour": "succeeds"}).status_code
        == 404
    )


def test_webhook_endpoints_mode_drain_and_flush_over_http(
    stripe_client: StripeClient, http: httpx.Client
) -> None:
    with Receiver(SECRET) as receiver:
        made = http.post("/_fake/webhook_endpoints", data={"url": receiver.url, "secret": SECRET})
        assert made.json()["secret"] == SECRET
        generated = http.post(
            "/_fake/webhook_endpoints", data={"url": "http://127.0.0.1:9/x"}
        ).json()
        assert generated["secret"].startswith("whsec_")
        assert len(http.get("/_fake/webhook_endpoints").json()["data"]) == 2
        assert http.delete("/_fake/webhook_endpoints").json() == {"deleted": 2}
        http.post(
            "/_fake/webhook_endpoints",
            data={"url": receiver.url, "secret": SECRET, "enabled_events[]": "customer.created"},
        )
        assert http.post("/_fake/webhooks/mode", data={"mode": "manual"}).json() == {
            "mode": "manual"
        }

        stripe_client.v1.customers.create(params={"email": "a@alice.example"})
        (drained,) = http.post("/_fake/webhooks/drain").json()["data"]
        event = stripe.Webhook.construct_event(
            drained["body"], drained["headers"]["Stripe-Signature"], SECRET
        )
        assert event.type == "customer.created"

        stripe_client.v1.customers.create(params={"email": "b@alice.example"})
        assert http.post("/_fake/webhooks/flush").json() == {
            "delivered": 1,
            "failed": 0,
            "pending": 0,
        }
        assert receiver.types() == ["customer.created"]
    assert http.post("/_fake/webhooks/mode", data={"mode": "sideways"}).status_code == 400


def test_429s_rate_limits_requests_and_events_over_http(
    stripe_fake: StripeFake, http: httpx.Client
) -> None:
    key = ("sk_test_x", "")
    assert http.post("/_fake/force_429", data={"count": "2", "code": "lock_timeout"}).json() == {
        "queued": 2
    }
    first = http.get("/v1/customers", auth=key)
    assert (first.status_code, first.headers["Stripe-Should-Retry"]) == (429, "true")
    assert first.json()["error"]["code"] == "lock_timeout"
    assert http.get("/v1/customers", auth=key).status_code == 429
    assert http.get("/v1/customers", auth=key).status_code == 200

    assert http.post("/_fake/rate_limit", data={"per_second": "1"}).json() == {"per_second": 1.0}
    assert [http.get("/v1/customers", auth=key).status_code for _ in range(2)] == [200, 429]
    assert http.post("/_fake/rate_limit", data={"per_second": ""}).json() == {"per_second": None}
    assert http.post("/_fake/rate_limit", data={"per_second": "fast"}).status_code == 400

    http.post("/v1/customers", data={"email": "a@alice.example"}, auth=key)
    (created,) = http.get("/_fake/events", params={"type": "customer.created"}).json()["data"]
    assert created["data"]["object"]["email"] == "a@alice.example"
    seen = http.get("/_fake/requests").json()["data"]
    assert [r["status"] for r in seen] == [429, 429, 200, 200, 429, 200]
    assert http.get("/_fake/nothing").status_code == 404
    assert http.get("/nowhere").status_code == 404


def test_the_clock_page_shows_subscriptions_and_events_and_moves_time(
    stripe_client: StripeClient, catalog: Catalog, http: httpx.Client
) -> None:
    checkout(stripe_client, catalog)
    page = http.get("/_fake/")
    assert page.status_code == 200
    assert "owner@alice.example" in page.text
    assert "<td>trialing</td>" in page.text
    assert "<code>checkout.session.completed</code>" in page.text
    assert '<button type="submit" name="seconds" value="86400">1 day</button>' in page.text
    moved = http.post(
        "/_fake/clock/advance",
        data={"seconds": str(15 * DAY), "next": "/_fake/"},
        follow_redirects=True,
    )
    assert "<td>active</td>" in moved.text
    assert "360 h 0 min ahead of real time" in moved.text


def test_the_clock_ticks_by_itself_when_asked() -> None:
    ticking = StripeFake(tick_seconds=0.05).start()
    try:
        client = StripeClient("sk_test_fake", base_addresses={"api": ticking.url})
        session = session_create(client, catalog_create(client))
        ticking.advance(session.expires_at - ticking.now() - 2)  # it expires in 1 to 2 seconds
        assert not ticking.events("checkout.session.expired")
        deadline = time.monotonic() + 4
        while not ticking.events("checkout.session.expired") and time.monotonic() < deadline:
            time.sleep(0.05)
        (expired,) = ticking.events("checkout.session.expired")
        assert expired["data"]["object"]["id"] == session.id
    finally:
        ticking.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_it_runs_on_its_own_and_stops_on_sigterm() -> None:
    port = _free_port()
    with Receiver(SECRET) as receiver:
        process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [
                sys.executable,
                "-m",
                "billing.stripe_fake",
                "--port",
                str(port),
                "--webhook-url",
                receiver.url,
                "--webhook-secret",
                SECRET,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline().startswith(f"Webhooks to {receiver.url}")
            assert process.stdout.readline().startswith(f"Stripe fake on http://127.0.0.1:{port}")
            client = StripeClient(
                "sk_test_fake", base_addresses={"api": f"http://127.0.0.1:{port}"}
            )
            client.v1.customers.create(params={"email": "a@alice.example"})
            deadline = time.monotonic() + 5
            while not receiver.events and time.monotonic() < deadline:
                time.sleep(0.02)
            assert receiver.types() == ["customer.created"]
        finally:
            process.terminate()
            assert process.wait(timeout=5) == 0
