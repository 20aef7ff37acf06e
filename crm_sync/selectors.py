"""Reads of CRM sync: destination health and the delivery log, for the portal and metrics."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.core.paginator import Paginator
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone
from django.utils.functional import cached_property

from customerinfo.core.tenancy import current_tenant_id
from outbox.models import Delivery, DeliveryStatus, DeliveryTally

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


def _health_rows(*, tenant_id: int | None) -> list[dict[str, Any]]:
    """Per destination: the undelivered rows by status (read from the partial index
    ``delivery_undelivered_idx``, which holds no delivered row) and the delivered tally
    (``DeliveryTally``: a counter, so no scan of the history)."""
    deliveries = Delivery.objects.all()
    tallies = DeliveryTally.objects.all()
    if tenant_id is not None:
        deliveries = deliveries.filter(tenant_id=tenant_id)
        tallies = tallies.filter(tenant_id=tenant_id)
    undelivered = (
        deliveries.exclude(status=DeliveryStatus.DELIVERED)
        .values("tenant_id", "destination_id")
        .annotate(
            pending=Count("pk", filter=Q(status=DeliveryStatus.PENDING)),
            held=Count("pk", filter=Q(status=DeliveryStatus.HELD)),
            dead=Count("pk", filter=Q(status=DeliveryStatus.DEAD)),
            oldest_pending_at=Min("created_at", filter=Q(status=DeliveryStatus.PENDING)),
        )
        .order_by()
    )
    rows: dict[tuple[int, int], dict[str, Any]] = {
        (row["tenant_id"], row["destination_id"]): {**row, "delivered": 0} for row in undelivered
    }
    for tenant, destination, delivered in tallies.values_list(
        "tenant_id", "destination_id", "delivered"
    ):
        row = rows.setdefault(
            (tenant, destination),
            {
                "tenant_id": tenant,
                "destination_id": destination,
                "pending": 0,
                "held": 0,
                "dead": 0,
                "oldest_pending_at": None,
            },
        )
        row["delivered"] = delivered
    return list(rows.values())


def destinations_health() -> dict[int, DestinationHealth]:
    """Health of every destination of the current tenant, with two small queries."""
    tenant_id = current_tenant_id()
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
        for row in _health_rows(tenant_id=tenant_id)
    }
    for destination_id in Destination.objects.values_list("pk", flat=True):
        health.setdefault(destination_id, DestinationHealth(destination_id=destination_id))
    return health


def all_tenants_health() -> list[dict[str, Any]]:
    """Every destination of every tenant (for Prometheus): one query on the outbox's undelivered
    rows and one on the tallies; ``delivered`` is the tally, which only grows."""
    return [
        {
            **row,
            "breaker": limits.breaker_state(
                scope=limits.destination_scope(
                    tenant_id=row["tenant_id"], destination_id=row["destination_id"]
                )
            ),
        }
        for row in _health_rows(tenant_id=None)
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


#: The destination page lists this many of the newest deliveries at most: an exact count of a
#: long history read every row of it on each view.
PAGE_COUNT_CAP = 10_000


class CappedPaginator(Paginator[Delivery]):
    """Pages over at most ``PAGE_COUNT_CAP`` rows, newest first (``delivery_page_idx``);
    ``more`` says whether older rows exist beyond them."""

    @cached_property
    def _capped(self) -> tuple[int, bool]:
        rows: QuerySet[Delivery] = self.object_list  # type: ignore[assignment]
        count = rows.order_by().values("pk")[: PAGE_COUNT_CAP + 1].count()
        return min(count, PAGE_COUNT_CAP), count > PAGE_COUNT_CAP

    @cached_property
    def count(self) -> int:
        return self._capped[0]

    @property
    def more(self) -> bool:
        return self._capped[1]
