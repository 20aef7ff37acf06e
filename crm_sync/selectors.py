"""Reads of CRM sync: destination health and the delivery log, for the portal and metrics."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from customerinfo.core.tenancy import current_tenant_id
from outbox.models import Delivery, DeliveryStatus

from . import limits
from .models import Destination


@dataclass(frozen=True)
class DestinationHealth:
    destination_id: int
    pending: int = 0
    held: int = 0
    dead: int = 0
    delivered: int = 0
    oldest_pending_at: datetime | None = None
    breaker: str = limits.BreakerState.CLOSED

    @property
    def oldest_pending_seconds(self) -> float:
        if self.oldest_pending_at is None:
            return 0.0
        return max(0.0, (timezone.now() - self.oldest_pending_at).total_seconds())


def _health_rows(deliveries: "QuerySet[Delivery]") -> "QuerySet[Any]":
    return deliveries.values("tenant_id", "destination_id").annotate(
        pending=Count("pk", filter=Q(status=DeliveryStatus.PENDING)),
        held=Count("pk", filter=Q(status=DeliveryStatus.HELD)),
        dead=Count("pk", filter=Q(status=DeliveryStatus.DEAD)),
        delivered=Count("pk", filter=Q(status=DeliveryStatus.DELIVERED)),
        oldest_pending_at=Min("created_at", filter=Q(status=DeliveryStatus.PENDING)),
    )


def destinations_health() -> dict[int, DestinationHealth]:
    """Health of every destination of the current tenant, with one query."""
    tenant_id = current_tenant_id()
    rows = _health_rows(Delivery.objects.filter(tenant_id=tenant_id))
    health = {
        row["destination_id"]: DestinationHealth(
            destination_id=row["destination_id"],
            pending=row["pending"],
            held=row["held"],
            dead=row["dead"],
            delivered=row["delivered"],
            oldest_pending_at=row["oldest_pending_at"],
            breaker=limits.breaker_state(
                scope=limits.destination_scope(
                    tenant_id=tenant_id, destination_id=row["destination_id"]
                )
            ),
        )
        for row in rows
    }
    for destination_id in Destination.objects.values_list("pk", flat=True):
        health.setdefault(destination_id, DestinationHealth(destination_id=destination_id))
    return health


def all_tenants_health() -> list[dict[str, Any]]:
    """Every destination of every tenant (for Prometheus), with one query on the outbox."""
    rows = _health_rows(Delivery.objects.all())
    return [
        {
            **row,
            "breaker": limits.breaker_state(
                scope=limits.destination_scope(
                    tenant_id=row["tenant_id"], destination_id=row["destination_id"]
                )
            ),
        }
        for row in rows
    ]


def deliveries_of_submission(*, submission_id: UUID) -> list[Delivery]:
    """A sign-up's deliveries with their attempt log, for the portal's delivery log."""
    tenant_id = current_tenant_id()
    return list(
        Delivery.objects.filter(tenant_id=tenant_id, submission_id=submission_id)
        .prefetch_related("attempt_log")
        .order_by("destination_id")
    )


def deliveries_of_destination(
    *, destination: Destination, status: str | None = None
) -> "QuerySet[Delivery]":
    tenant_id = current_tenant_id()
    deliveries = Delivery.objects.filter(tenant_id=tenant_id, destination_id=destination.pk)
    if status:
        deliveries = deliveries.filter(status=status)
    return deliveries.order_by("-created_at", "-pk")
