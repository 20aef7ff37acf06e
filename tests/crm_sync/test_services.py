"""The outbox and sending, against a real webhook receiver: which sign-ups get a delivery, and
what each answer of the CRM does to it (delivered, retried on the schedule, dead).

The tests run in alice's schema (the ``kiosk`` fixture); conftest.py has the receiver and the
destination. Pausing, the breaker, replay and credentials are in test_services_destinations.py.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from crm_sync import services
from crm_sync.http import http_client
from crm_sync.models import Destination
from crm_sync.schedule import MAX_ATTEMPTS
from crm_sync.tasks import deliver, deliver_due
from customerinfo.core.tenancy import current_schema, current_tenant_id
from outbox.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from outbox.services import outbox_expected
from signup.models import Submission
from tests.signup.factories import Kiosk, kiosk_create

from .factories import deliveries_of, send, sign_up, webhook_destination
from .fakes.server import Reply
from .fakes.webhook import FakeWebhookReceiver


def test_a_sign_up_writes_one_pending_delivery_per_enabled_destination(
    kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    webhook_destination(url=receiver.url, name="Disabled", enabled=False)
    submission_id = sign_up(kiosk)
    (delivery,) = deliveries_of(submission_id)
    assert delivery.destination_id == destination.pk
    assert delivery.tenant_id == current_tenant_id()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 0
    # Due at once and with no lease: the relay's next run hands it out (no message per sign-up).
    assert delivery.lease_expires_at is None
    assert delivery.next_attempt_at <= timezone.now()


def test_a_repeated_sign_up_writes_no_second_delivery(
    kiosk: Kiosk, destination: Destination
) -> None:
    submission_id = sign_up(kiosk)
    submission = Submission.objects.get(pk=submission_id)
    from signup.services import submission_create

    submission_create(
        device=kiosk.device,
        submission_id=submission_id,
        form_version_id=kiosk.version.pk,
        locale="en",
        captured_at=submission.captured_at,
        answers={"email": submission.email},
        consents={"email": True, "sms": False},
    )
    assert len(deliveries_of(submission_id)) == 1


def test_a_process_that_saw_no_destination_still_writes_the_delivery(
    kiosk: Kiosk, receiver: FakeWebhookReceiver
) -> None:
    """The statement without the outbox is guarded: a destination enabled meanwhile (here in
    another process, whose sign-ups this one never saw) is found in the statement's own
    snapshot, and the sign-up is written with its delivery, once."""
    lone = sign_up(kiosk)
    assert deliveries_of(lone) == []
    assert outbox_expected() is False, "it learned there was no destination"
    destination = webhook_destination(url=receiver.url)
    assert outbox_expected() is False, "nothing told this process"

    submission_id = sign_up(kiosk)
    (delivery,) = deliveries_of(submission_id)
    assert delivery.destination_id == destination.pk
    assert Submission.objects.filter(pk=submission_id).count() == 1
    assert outbox_expected() is True

    services.destination_update(
        actor=None,
        destination=destination,
        name=destination.name,
        settings=destination.settings,
        credentials={},
        field_mapping={},
        forms=[],
        locations=[],
        enabled=False,
    )
    assert deliveries_of(sign_up(kiosk)) == []
    assert outbox_expected() is False, "the last destination went: back to the plain statement"


def test_forms_and_stores_choose_which_sign_ups_a_destination_gets(
    kiosk: Kiosk, receiver: FakeWebhookReceiver
) -> None:
    other_store = kiosk_create(code="other")
    webhook_destination(url=receiver.url, name="Main store only", locations=[kiosk.location])
    webhook_destination(url=receiver.url, name="Main form", forms=[kiosk.form])
    assert len(deliveries_of(sign_up(kiosk))) == 2
    assert len(deliveries_of(sign_up(other_store))) == 1


def test_a_paused_destination_gets_held_deliveries(kiosk: Kiosk, destination: Destination) -> None:
    services.destination_pause(destination=destination, reason="401", actor=None)
    (delivery,) = deliveries_of(sign_up(kiosk))
    assert delivery.status == DeliveryStatus.HELD


# --- sending -----------------------------------------------------------------------------------


def test_send_delivers_a_signed_event_once(
    kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    submission_id = sign_up(kiosk, email="Ana@Example.com", phone="+33612345678", sms=True)
    (delivery,) = deliveries_of(submission_id)
    report = send(delivery)
    assert dict(report.counts) == {"delivered": 1}
    event = receiver.events[f"msg_{submission_id}"]
    assert event["type"] == "signup.created"
    data = event["data"]
    assert data["email"] == "ana@example.com"
    assert data["phone"] == "+33612345678"
    channels = {consent["channel"]: consent for consent in data["consents"]}
    assert channels["email"]["granted"] is True
    assert channels["sms"]["granted"] is True
    assert len(channels["email"]["wording_hash"]) == 64
    assert channels["email"]["captured_at"]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.attempts == 1
    assert delivery.delivered_at is not None
    # Delivered rows are never sent again, whoever asks.
    assert dict(send(delivery).counts) == {}
    assert receiver.received == 1
    (attempt,) = DeliveryAttempt.objects.filter(delivery=delivery)
    assert attempt.outcome == AttemptOutcome.DELIVERED
    assert attempt.status_code == 204


def test_field_mapping_adds_crm_properties(
    kiosk: Kiosk, receiver: FakeWebhookReceiver, secret: str
) -> None:
    webhook_destination(
        url=receiver.url,
        secret=secret,
        field_mapping={"drink": "favourite_drink", "birthday": "birthday", "note": "notes"},
    )
    submission_id = sign_up(kiosk, drink="tea", birthday={"month": 4, "day": 9})
    (delivery,) = deliveries_of(submission_id)
    send(delivery)
    properties = receiver.events[f"msg_{submission_id}"]["data"]["properties"]
    assert properties == {"favourite_drink": "tea", "birthday": "04-09"}


def test_a_server_error_is_retried_on_the_schedule(
    kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    (delivery,) = deliveries_of(sign_up(kiosk))
    receiver.force(Reply(503, {"error": "busy"}))
    before = timezone.now()
    send(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert delivery.last_status_code == 503
    assert delivery.lease_expires_at is None
    # The second attempt comes 5 s later, give or take the 20 % jitter.
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 3.9 <= wait <= 6.1


def test_retry_after_is_honoured_and_cools_the_destination_down(
    kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    first, second = deliveries_of(sign_up(kiosk)) + deliveries_of(sign_up(kiosk))
    receiver.force(Reply(429, {"error": "slow down"}, {"Retry-After": "120"}))
    send(first)
    first.refresh_from_db()
    assert 119 <= (first.next_attempt_at - timezone.now()).total_seconds() <= 121
    # Others wait too, without spending an attempt and without a request.
    requests = len(receiver.requests)
    assert dict(send(second).counts) == {"deferred": 1}
    second.refresh_from_db()
    assert second.attempts == 0
    assert second.next_attempt_at > timezone.now() + timedelta(seconds=100)
    assert len(receiver.requests) == requests


def test_a_refused_contact_is_dead_with_the_reason(
    kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    (delivery,) = deliveries_of(sign_up(kiosk))
    receiver.force(Reply(422, {"error": "email not allowed"}))
    send(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert "email not allowed" in delivery.last_error


def test_the_schedule_ends_in_dead(
    kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    (delivery,) = deliveries_of(sign_up(kiosk))
    Delivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
    receiver.force(Reply(500))
    send(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert f"Gave up after {MAX_ATTEMPTS} attempts" in delivery.last_error


def test_a_timeout_and_a_dead_server_are_retried(
    kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    slow, down = deliveries_of(sign_up(kiosk)) + deliveries_of(sign_up(kiosk))
    receiver.delay = 0.5
    with http_client(timeout=0.1) as client:
        services.deliveries_send(destination_id=destination.pk, ids=[slow.pk], client=client)
    receiver.delay = 0
    receiver.down = True
    send(down)
    for delivery in (slow, down):
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING
        assert delivery.attempts == 1
    slow_attempt = DeliveryAttempt.objects.get(delivery=slow)
    assert slow_attempt.error == "The CRM did not answer in time."
    assert "Could not reach" in DeliveryAttempt.objects.get(delivery=down).error


def test_an_erased_sign_up_is_not_sent(
    kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    submission_id = sign_up(kiosk)
    (delivery,) = deliveries_of(submission_id)
    Submission.objects.filter(pk=submission_id).delete()
    send(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert "erased" in delivery.last_error
    assert receiver.requests == []


def test_a_sign_up_sends_no_message_and_the_relay_hands_its_delivery_out(
    kiosk: Kiosk,
    destination: Destination,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """No Redis round trip per sign-up: the delivery is due at once, for the relay's next run."""
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(deliver, "delay", lambda **task: sent.append(task))
    monkeypatch.setattr(deliver_due, "delay", lambda **task: sent.append(task))
    with django_capture_on_commit_callbacks(execute=True):
        (delivery,) = deliveries_of(sign_up(kiosk))
    assert sent == []
    assert services.deliveries_relay() == 1
    assert sent == [
        {
            "groups": [
                {
                    "schema_name": current_schema(),
                    "destination_id": destination.pk,
                    "ids": [delivery.pk],
                }
            ]
        }
    ]
