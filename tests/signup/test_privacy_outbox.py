"""Erasing a shopper and purging old sign-ups take their CRM deliveries with them, and only
theirs: other shoppers' rows and other tenants' rows stay."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from outbox.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from signup import services
from signup.models import Submission
from tenants.models import Tenant
from tests.crm_sync.factories import deliveries_of, sign_up, webhook_destination
from tests.signup.factories import Kiosk

pytestmark = pytest.mark.django_db


def _attempt(delivery_id: int) -> None:
    DeliveryAttempt.objects.create(
        delivery_id=delivery_id, number=1, started_at=timezone.now(), outcome=AttemptOutcome.RETRY
    )


def _same_id_elsewhere(tenant: Tenant, submission_id: uuid.UUID) -> int:
    """A row of another tenant naming the same sign-up id (ids are per schema)."""
    now = timezone.now()
    return Delivery.objects.create(
        tenant=tenant,
        destination_id=1,
        submission_id=submission_id,
        status=DeliveryStatus.DELIVERED,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        delivered_at=now,
    ).pk


def test_erasing_a_shopper_removes_their_deliveries_only(
    kiosk: Kiosk, charlie_tenant: Tenant
) -> None:
    webhook_destination(url="http://127.0.0.1:9/one", name="One")
    webhook_destination(url="http://127.0.0.1:9/two", name="Two")
    erased = [sign_up(kiosk, email="gone@example.com") for _ in range(2)]
    other = sign_up(kiosk, email="stays@example.com")
    for submission_id in [*erased, other]:
        _attempt(deliveries_of(submission_id)[0].pk)
    elsewhere = _same_id_elsewhere(charlie_tenant, erased[0])
    kept = {delivery.pk for delivery in deliveries_of(other)}
    assert len(kept) == 2

    assert services.shopper_erase(actor=None, email="Gone@Example.com") == 2

    assert set(Delivery.objects.values_list("pk", flat=True)) == {*kept, elsewhere}
    assert {a.delivery_id for a in DeliveryAttempt.objects.all()} == {deliveries_of(other)[0].pk}


def test_the_retention_purge_removes_the_deliveries_of_purged_sign_ups_only(
    kiosk: Kiosk, charlie_tenant: Tenant
) -> None:
    webhook_destination(url="http://127.0.0.1:9/hook")
    services.retention_update(actor=None, days=30)
    old = [sign_up(kiosk, email=f"old{n}@example.com") for n in range(3)]
    new = sign_up(kiosk, email="new@example.com")
    Submission.objects.filter(pk__in=old).update(received_at=timezone.now() - timedelta(days=31))
    for submission_id in old:
        _attempt(deliveries_of(submission_id)[0].pk)
    elsewhere = _same_id_elsewhere(charlie_tenant, old[0])
    kept = deliveries_of(new)[0].pk

    assert services.retention_purge(batch_size=2) == 3

    assert set(Delivery.objects.values_list("pk", flat=True)) == {kept, elsewhere}
    assert not DeliveryAttempt.objects.exists()
