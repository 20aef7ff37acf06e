"""The outbox, sending, retries, pausing and replay, against a real webhook receiver."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core import mail
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm_sync import limits, services
from crm_sync.crypto import credentials_decrypt
from crm_sync.http import http_client
from crm_sync.models import Destination, DestinationState
from crm_sync.providers.webhook import secret_generate
from crm_sync.schedule import MAX_ATTEMPTS
from customerinfo.core.errors import ServiceError
from customerinfo.core.tenancy import current_tenant_id
from outbox.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from outbox.services import outbox_expected
from signup.models import Submission
from tenants.models import Tenant
from tests.signup.factories import Kiosk, kiosk_create

from .factories import deliveries_of, sign_up, webhook_destination
from .fakes.server import Reply
from .fakes.webhook import FakeWebhookReceiver


@pytest.fixture
def secret() -> str:
    return secret_generate()


@pytest.fixture
def receiver(secret: str) -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(secrets=[secret]) as fake:
        yield fake


@pytest.fixture
def alice_kiosk(alice_tenant: Tenant) -> Iterator[Kiosk]:
    with tenant_context(alice_tenant):
        yield kiosk_create()


@pytest.fixture
def destination(alice_kiosk: Kiosk, receiver: FakeWebhookReceiver, secret: str) -> Destination:
    return webhook_destination(url=receiver.url + "/hooks", secret=secret)


def send(delivery: Delivery) -> services.SendReport:
    return services.deliveries_send(destination_id=delivery.destination_id, ids=[delivery.pk])


def test_a_sign_up_writes_one_pending_delivery_per_enabled_destination(
    alice_kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    webhook_destination(url=receiver.url, name="Disabled", enabled=False)
    submission_id = sign_up(alice_kiosk)
    (delivery,) = deliveries_of(submission_id)
    assert delivery.destination_id == destination.pk
    assert delivery.tenant_id == current_tenant_id()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 0
    # The fast path holds a lease so the relay leaves the row to it.
    assert delivery.lease_expires_at is not None
    assert delivery.lease_expires_at > timezone.now()


def test_a_repeated_sign_up_writes_no_second_delivery(
    alice_kiosk: Kiosk, destination: Destination
) -> None:
    submission_id = sign_up(alice_kiosk)
    submission = Submission.objects.get(pk=submission_id)
    from signup.services import submission_create

    submission_create(
        device=alice_kiosk.device,
        submission_id=submission_id,
        form_version_id=alice_kiosk.version.pk,
        locale="en",
        captured_at=submission.captured_at,
        answers={"email": submission.email},
        consents={"email": True, "sms": False},
    )
    assert len(deliveries_of(submission_id)) == 1


def test_a_process_that_saw_no_destination_still_writes_the_delivery(
    alice_kiosk: Kiosk, receiver: FakeWebhookReceiver
) -> None:
    """The statement without the outbox is guarded: a destination enabled meanwhile (here in
    another process, whose sign-ups this one never saw) is found in the statement's own
    snapshot, and the sign-up is written with its delivery, once."""
    lone = sign_up(alice_kiosk)
    assert deliveries_of(lone) == []
    assert outbox_expected() is False, "it learned there was no destination"
    destination = webhook_destination(url=receiver.url)
    assert outbox_expected() is False, "nothing told this process"

    submission_id = sign_up(alice_kiosk)
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
    assert deliveries_of(sign_up(alice_kiosk)) == []
    assert outbox_expected() is False, "the last destination went: back to the plain statement"


def test_forms_and_stores_choose_which_sign_ups_a_destination_gets(
    alice_kiosk: Kiosk, receiver: FakeWebhookReceiver
) -> None:
    other_store = kiosk_create(code="other")
    webhook_destination(url=receiver.url, name="Main store only", locations=[alice_kiosk.location])
    webhook_destination(url=receiver.url, name="Main form", forms=[alice_kiosk.form])
    assert len(deliveries_of(sign_up(alice_kiosk))) == 2
    assert len(deliveries_of(sign_up(other_store))) == 1


def test_a_paused_destination_gets_held_deliveries(
    alice_kiosk: Kiosk, destination: Destination
) -> None:
    services.destination_pause(destination=destination, reason="401", actor=None)
    (delivery,) = deliveries_of(sign_up(alice_kiosk))
    assert delivery.status == DeliveryStatus.HELD


def test_send_delivers_a_signed_event_once(
    alice_kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    submission_id = sign_up(alice_kiosk, email="Ana@Example.com", phone="+33612345678", sms=True)
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
    alice_kiosk: Kiosk, receiver: FakeWebhookReceiver, secret: str
) -> None:
    webhook_destination(
        url=receiver.url,
        secret=secret,
        field_mapping={"drink": "favourite_drink", "birthday": "birthday", "note": "notes"},
    )
    submission_id = sign_up(alice_kiosk, drink="tea", birthday={"month": 4, "day": 9})
    (delivery,) = deliveries_of(submission_id)
    send(delivery)
    properties = receiver.events[f"msg_{submission_id}"]["data"]["properties"]
    assert properties == {"favourite_drink": "tea", "birthday": "04-09"}


def test_a_server_error_is_retried_on_the_schedule(
    alice_kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    (delivery,) = deliveries_of(sign_up(alice_kiosk))
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
    alice_kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    first, second = deliveries_of(sign_up(alice_kiosk)) + deliveries_of(sign_up(alice_kiosk))
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
    alice_kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    (delivery,) = deliveries_of(sign_up(alice_kiosk))
    receiver.force(Reply(422, {"error": "email not allowed"}))
    send(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert "email not allowed" in delivery.last_error


def test_the_schedule_ends_in_dead(
    alice_kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    (delivery,) = deliveries_of(sign_up(alice_kiosk))
    Delivery.objects.filter(pk=delivery.pk).update(attempts=MAX_ATTEMPTS - 1)
    receiver.force(Reply(500))
    send(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert f"Gave up after {MAX_ATTEMPTS} attempts" in delivery.last_error


def test_a_timeout_and_a_dead_server_are_retried(
    alice_kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    slow, down = deliveries_of(sign_up(alice_kiosk)) + deliveries_of(sign_up(alice_kiosk))
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
    alice_kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    submission_id = sign_up(alice_kiosk)
    (delivery,) = deliveries_of(submission_id)
    Submission.objects.filter(pk=submission_id).delete()
    send(delivery)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD
    assert "erased" in delivery.last_error
    assert receiver.requests == []


def test_a_401_pauses_holds_alerts_and_a_resume_replays(
    alice_kiosk: Kiosk,
    destination: Destination,
    receiver: FakeWebhookReceiver,
    alice: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    first, second = deliveries_of(sign_up(alice_kiosk)) + deliveries_of(sign_up(alice_kiosk))
    receiver.force(Reply(401, {"error": "bad key"}))
    with django_capture_on_commit_callbacks(execute=True):
        send(first)
    destination.refresh_from_db()
    assert destination.state == DestinationState.PAUSED
    assert "bad key" in destination.paused_reason
    for delivery in (first, second):
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.HELD
        # Holding spends no attempt: the destination is at fault, not the sign-up.
        assert delivery.attempts == 0
    assert [message.to for message in mail.outbox] == [[alice.email]]
    assert "on hold" in mail.outbox[0].subject
    count = services.destination_resume(actor=alice, destination=destination)
    assert count == 2
    destination.refresh_from_db()
    assert destination.state == DestinationState.ACTIVE
    for delivery in (first, second):
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING
    services.deliveries_send(destination_id=destination.pk, ids=[first.pk, second.pk])
    assert Delivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 2


def test_410_disables_the_destination(
    alice_kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    (delivery,) = deliveries_of(sign_up(alice_kiosk))
    receiver.force(Reply(410))
    send(delivery)
    destination.refresh_from_db()
    assert destination.enabled is False
    assert destination.state == DestinationState.PAUSED
    assert deliveries_of(sign_up(alice_kiosk)) == []


def test_the_breaker_opens_after_repeated_failures(
    alice_kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    rows = [deliveries_of(sign_up(alice_kiosk))[0] for _ in range(limits.BREAKER_THRESHOLD + 1)]
    receiver.force(*[Reply(500)] * limits.BREAKER_THRESHOLD)
    for row in rows[:-1]:
        send(row)
    scope = f"{connection.tenant.pk}:{destination.pk}"  # type: ignore[attr-defined]
    assert limits.breaker_state(scope=scope) == limits.BreakerState.OPEN
    requests = len(receiver.requests)
    assert dict(send(rows[-1]).counts) == {AttemptOutcome.SKIPPED: 1}
    assert len(receiver.requests) == requests
    last = rows[-1]
    last.refresh_from_db()
    assert last.attempts == 1
    assert "circuit open" in last.last_error


def test_rotation_signs_with_both_secrets(
    alice_kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver, secret: str
) -> None:
    new_secret = services.webhook_secret_rotate(actor=None, destination=destination)
    signatures = []
    receiver.secrets = [new_secret]
    (delivery,) = deliveries_of(sign_up(alice_kiosk))
    send(delivery)
    signatures.append(receiver.requests[-1].headers["webhook-signature"])
    assert len(signatures[0].split(" ")) == 2
    # A receiver still on the old secret verifies too.
    receiver.secrets = [secret]
    (later,) = deliveries_of(sign_up(alice_kiosk))
    send(later)
    assert receiver.rejected_signatures == 0
    assert len(receiver.events) == 2
    stored = credentials_decrypt(Destination.objects.get(pk=destination.pk).credentials)
    assert stored["secret"] == new_secret
    assert stored["previous_secret"] == secret


def test_replay_of_dead_deliveries_is_throttled(
    alice_kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    rows = deliveries_of(sign_up(alice_kiosk)) + deliveries_of(sign_up(alice_kiosk))
    Delivery.objects.filter(pk__in=[row.pk for row in rows]).update(
        status=DeliveryStatus.DEAD, attempts=MAX_ATTEMPTS
    )
    assert services.deliveries_replay(actor=None, destination=destination) == 2
    replayed = Delivery.objects.filter(pk__in=[row.pk for row in rows]).order_by("created_at")
    assert {row.status for row in replayed} == {DeliveryStatus.PENDING}
    assert {row.attempts for row in replayed} == {0}
    with pytest.raises(ServiceError) as error:
        services.deliveries_replay(actor=None, destination=destination)
    assert error.value.code == "replay_throttled"
    # One delivery can always be replayed.
    Delivery.objects.filter(pk=rows[0].pk).update(status=DeliveryStatus.DEAD)
    assert (
        services.deliveries_replay(actor=None, destination=destination, delivery_id=rows[0].pk) == 1
    )


def test_relay_claims_due_rows_of_every_tenant_in_one_query(
    *,
    alice_kiosk: Kiosk,
    destination: Destination,
    charlie_tenant: Tenant,
    receiver: FakeWebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_max_num_queries: Any,
) -> None:
    alice_row = deliveries_of(sign_up(alice_kiosk))[0]
    with tenant_context(charlie_tenant):
        charlie_kiosk = kiosk_create()
        charlie_destination = webhook_destination(url=receiver.url)
        charlie_row = deliveries_of(sign_up(charlie_kiosk))[0]
    # Lost fast-path messages: the leases have run out.
    past = timezone.now() - timedelta(seconds=1)
    Delivery.objects.update(lease_expires_at=past, next_attempt_at=past)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr("crm_sync.tasks.deliver.delay", lambda **kwargs: sent.append(kwargs))
    with django_assert_max_num_queries(6) as queries:
        assert services.deliveries_relay() == 2
    outbox_reads = [q for q in queries.captured_queries if "crm_outbox_delivery" in q["sql"]]
    assert len(outbox_reads) == 1
    assert sorted((call["schema_name"], call["destination_id"], call["ids"]) for call in sent) == [
        (Tenant.objects.get(slug="alice").schema_name, destination.pk, [alice_row.pk]),
        (charlie_tenant.schema_name, charlie_destination.pk, [charlie_row.pk]),
    ]
    # Now leased: the next run hands out nothing until the lease runs out.
    assert services.deliveries_relay() == 0


def test_credentials_are_encrypted_and_rotate_to_a_new_key(
    alice_kiosk: Kiosk, destination: Destination, settings: Any, secret: str
) -> None:
    stored = Destination.objects.get(pk=destination.pk).credentials
    assert secret not in stored
    new_key = Fernet.generate_key().decode()
    settings.CRM_ENCRYPTION_KEYS = [new_key, *settings.CRM_ENCRYPTION_KEYS]
    assert services.credentials_rotate_all() >= 1
    with tenant_context(Tenant.objects.get(slug="alice")):
        rotated = Destination.objects.get(pk=destination.pk).credentials
    assert rotated != stored
    settings.CRM_ENCRYPTION_KEYS = [new_key]
    with tenant_context(Tenant.objects.get(slug="alice")):
        assert credentials_decrypt(rotated)["secret"] == secret


def test_configuration_errors_name_each_field(alice_kiosk: Kiosk) -> None:
    with pytest.raises(ServiceError) as error:
        services.destination_create(
            actor=None, name="", kind="webhook", settings={}, credentials={"secret": "nope"}
        )
    assert set(error.value.fields) == {"url", "secret", "name"}
    with pytest.raises(ServiceError) as unknown:
        services.destination_create(
            actor=None, name="X", kind="carrier-pigeon", settings={}, credentials={}
        )
    assert unknown.value.fields["kind"][0]["code"] == "invalid"


def test_the_rotation_command_reports_what_it_did(
    alice_kiosk: Kiosk, destination: Destination, settings: Any
) -> None:
    from io import StringIO

    from django.core.management import call_command

    settings.CRM_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.CRM_ENCRYPTION_KEYS]
    out = StringIO()
    call_command("crm_rotate_credentials", stdout=out)
    assert "Re-encrypted the credentials of" in out.getvalue()
    settings.CRM_ENCRYPTION_KEYS = settings.CRM_ENCRYPTION_KEYS[:1]
    with tenant_context(Tenant.objects.get(slug="alice")):
        assert credentials_decrypt(Destination.objects.get(pk=destination.pk).credentials)
