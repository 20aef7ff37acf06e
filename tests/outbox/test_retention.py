"""The outbox's retention purge: delivered rows past the period go, in batches; nothing else."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from outbox.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from outbox.services import deliveries_purge
from outbox.tasks import retention_purge
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def _row(tenant: Tenant, status: str, *, age_days: int, delivered_days: int | None = None) -> int:
    """A delivery made ``age_days`` ago; delivered ``delivered_days`` ago if given. One attempt."""
    now = timezone.now()
    created = now - timedelta(days=age_days)
    delivery = Delivery.objects.create(
        tenant=tenant,
        destination_id=1,
        submission_id=uuid.uuid4(),
        status=status,
        attempts=1,
        next_attempt_at=created,
        created_at=created,
        updated_at=created,
        delivered_at=None if delivered_days is None else now - timedelta(days=delivered_days),
    )
    DeliveryAttempt.objects.create(
        delivery=delivery, number=1, started_at=created, outcome=AttemptOutcome.RETRY
    )
    return delivery.pk


def test_only_delivered_rows_past_the_period_are_purged_in_batches(
    settings: Any, alice_tenant: Tenant, charlie_tenant: Tenant
) -> None:
    settings.OUTBOX_RETENTION_DAYS = 30
    old = [
        _row(alice_tenant, DeliveryStatus.DELIVERED, age_days=40, delivered_days=31)
        for _ in range(3)
    ]
    # Every tenant's rows are in the one table, and the purge covers them all.
    old.append(_row(charlie_tenant, DeliveryStatus.DELIVERED, age_days=90, delivered_days=89))
    kept = [
        # Made long ago but delivered recently: the period runs from the delivery.
        _row(alice_tenant, DeliveryStatus.DELIVERED, age_days=60, delivered_days=29),
        # Work not done, or the record of what failed: never purged, however old.
        _row(alice_tenant, DeliveryStatus.PENDING, age_days=60),
        _row(alice_tenant, DeliveryStatus.HELD, age_days=60),
        _row(charlie_tenant, DeliveryStatus.DEAD, age_days=60),
        # A dead row that had been delivered once (requeued, then failed for good).
        _row(charlie_tenant, DeliveryStatus.DEAD, age_days=60, delivered_days=45),
    ]

    assert deliveries_purge(batch_size=3) == 4

    assert sorted(Delivery.objects.values_list("pk", flat=True)) == sorted(kept)
    assert sorted(DeliveryAttempt.objects.values_list("delivery_id", flat=True)) == sorted(kept)
    assert deliveries_purge(batch_size=3) == 0, "a second run finds nothing left"


def test_the_period_is_the_setting(settings: Any, alice_tenant: Tenant) -> None:
    settings.OUTBOX_RETENTION_DAYS = 7
    purged = _row(alice_tenant, DeliveryStatus.DELIVERED, age_days=9, delivered_days=8)
    kept = _row(alice_tenant, DeliveryStatus.DELIVERED, age_days=9, delivered_days=6)
    assert retention_purge.apply().get() == 1
    assert list(Delivery.objects.values_list("pk", flat=True)) == [kept]
    assert not Delivery.objects.filter(pk=purged).exists()


def test_the_beat_schedule_runs_the_purge(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["outbox-retention-purge"]
    assert entry["task"] == retention_purge.name
