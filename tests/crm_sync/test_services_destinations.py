"""A destination in trouble and in care, against a real webhook receiver: paused on a 401 and
resumed, disabled on a 410, the breaker, secret rotation, replay of dead deliveries, the relay
that hands out lost messages, and credentials encrypted and re-encrypted.

The tests run in alice's schema (the ``kiosk`` fixture); conftest.py has the receiver and the
destination.
"""

from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core import mail
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm_sync import limits, services
from crm_sync.crypto import credentials_decrypt
from crm_sync.models import Destination, DestinationState
from crm_sync.schedule import MAX_ATTEMPTS
from crm_sync.services.claims import DEFERRED
from crm_sync.services.key_rotation import credentials_keys_rotate
from customerinfo.core.errors import ServiceError
from customerinfo.core.tenancy import current_tenant_id
from outbox.models import Delivery, DeliveryStatus
from tenants.models import Tenant
from tests.signup.factories import Kiosk, kiosk_create

from .factories import deliveries_of, send, sign_up, webhook_destination
from .fakes.server import Reply
from .fakes.webhook import FakeWebhookReceiver


def test_a_401_pauses_holds_alerts_and_a_resume_replays(
    kiosk: Kiosk,
    destination: Destination,
    receiver: FakeWebhookReceiver,
    alice: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    first, second = deliveries_of(sign_up(kiosk)) + deliveries_of(sign_up(kiosk))
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
    kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    (delivery,) = deliveries_of(sign_up(kiosk))
    receiver.force(Reply(410))
    send(delivery)
    destination.refresh_from_db()
    assert destination.enabled is False
    assert destination.state == DestinationState.PAUSED
    assert deliveries_of(sign_up(kiosk)) == []


def test_the_breaker_opens_after_repeated_failures(
    kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    rows = [deliveries_of(sign_up(kiosk))[0] for _ in range(limits.BREAKER_THRESHOLD + 1)]
    receiver.force(*[Reply(500)] * limits.BREAKER_THRESHOLD)
    for row in rows[:-1]:
        send(row)
    scope = f"{current_tenant_id()}:{destination.pk}"
    assert limits.breaker_state(scope=scope) == limits.BreakerState.OPEN
    requests = len(receiver.requests)
    # Held back until a probe may go, without spending an attempt (test_outage.py has more).
    assert dict(send(rows[-1]).counts) == {DEFERRED: 1}
    assert len(receiver.requests) == requests
    last = rows[-1]
    last.refresh_from_db()
    assert last.attempts == 0
    assert last.last_error.startswith("Waiting: the CRM failed several times in a row")
    assert last.next_attempt_at > timezone.now()


def test_rotation_signs_with_both_secrets(
    kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver, secret: str
) -> None:
    new_secret = services.webhook_secret_rotate(actor=None, destination=destination)
    signatures = []
    receiver.secrets = [new_secret]
    (delivery,) = deliveries_of(sign_up(kiosk))
    send(delivery)
    signatures.append(receiver.requests[-1].headers["webhook-signature"])
    assert len(signatures[0].split(" ")) == 2
    # A receiver still on the old secret verifies too.
    receiver.secrets = [secret]
    (later,) = deliveries_of(sign_up(kiosk))
    send(later)
    assert receiver.rejected_signatures == 0
    assert len(receiver.events) == 2
    stored = credentials_decrypt(Destination.objects.get(pk=destination.pk).credentials)
    assert stored["secret"] == new_secret
    assert stored["previous_secret"] == secret


# --- replay and the relay ----------------------------------------------------------------------


def test_replay_of_dead_deliveries_is_throttled(
    kiosk: Kiosk, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    rows = deliveries_of(sign_up(kiosk)) + deliveries_of(sign_up(kiosk))
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
    kiosk: Kiosk,
    destination: Destination,
    charlie_tenant: Tenant,
    receiver: FakeWebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
    django_assert_max_num_queries: Any,
) -> None:
    alice_row = deliveries_of(sign_up(kiosk))[0]
    with tenant_context(charlie_tenant):
        charlie_kiosk = kiosk_create()
        charlie_destination = webhook_destination(url=receiver.url)
        charlie_row = deliveries_of(sign_up(charlie_kiosk))[0]
    # Lost messages of an earlier run: the leases have run out.
    past = timezone.now() - timedelta(seconds=1)
    Delivery.objects.update(lease_expires_at=past, next_attempt_at=past)
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr("crm_sync.tasks.deliver_due.delay", lambda *, groups: sent.extend(groups))
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


# --- credentials and configuration -------------------------------------------------------------


def test_credentials_are_encrypted_and_rotate_to_a_new_key(
    kiosk: Kiosk, destination: Destination, settings: Any, secret: str
) -> None:
    stored = Destination.objects.get(pk=destination.pk).credentials
    assert secret not in stored
    new_key = Fernet.generate_key().decode()
    settings.CRM_ENCRYPTION_KEYS = [new_key, *settings.CRM_ENCRYPTION_KEYS]
    report = credentials_keys_rotate()
    assert report.rewritten >= 1
    assert report.done
    with tenant_context(Tenant.objects.get(slug="alice")):
        rotated = Destination.objects.get(pk=destination.pk).credentials
    assert rotated != stored
    settings.CRM_ENCRYPTION_KEYS = [new_key]
    with tenant_context(Tenant.objects.get(slug="alice")):
        assert credentials_decrypt(rotated)["secret"] == secret


def test_configuration_errors_name_each_field(kiosk: Kiosk) -> None:
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
