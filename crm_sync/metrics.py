"""Prometheus figures of CRM delivery, read from the outbox at scrape time.

Computed per scrape from the database rather than counted in memory: every web pod then reports
the same truth, and a restarted pod reports it at once.
"""

from collections.abc import Iterator
from typing import Any

import redis
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from customerinfo.core.tenancy import use_public_schema
from tenants.models import Tenant

from .limits import BreakerState
from .paused import paused_read
from .selectors import all_tenants_health

LABELS = ["tenant", "destination"]


class DeliveryCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        use_public_schema()
        rows = all_tenants_health()
        try:
            paused = paused_read()
        except redis.RedisError:
            # Without Redis the pauses are left out; the outbox's figures are still served.
            paused = {}
        slugs = dict(
            Tenant.objects.filter(
                pk__in={row["tenant_id"] for row in rows} | {key[0] for key in paused}
            ).values_list("pk", "slug")
        )
        deliveries = GaugeMetricFamily(
            "customerinfo_crm_deliveries",
            "CRM deliveries by status.",
            labels=[*LABELS, "status"],
        )
        oldest = GaugeMetricFamily(
            "customerinfo_crm_oldest_pending_seconds",
            "Age of the oldest delivery still pending.",
            labels=LABELS,
        )
        breaker = GaugeMetricFamily(
            "customerinfo_crm_breaker_open",
            "1 when the destination's circuit breaker is open or half open.",
            labels=LABELS,
        )
        now = timezone.now()
        for row in rows:
            labels = [
                slugs.get(row["tenant_id"], str(row["tenant_id"])),
                str(row["destination_id"]),
            ]
            for status in ("pending", "held", "dead", "delivered"):
                deliveries.add_metric([*labels, status], row[status])
            pending_at: Any = row["oldest_pending_at"]
            age = (now - pending_at).total_seconds() if pending_at else 0.0
            oldest.add_metric(labels, max(0.0, age))
            breaker.add_metric(labels, 0 if row["breaker"] == BreakerState.CLOSED else 1)
        paused_since = GaugeMetricFamily(
            "customerinfo_crm_destination_paused_timestamp_seconds",
            "When a paused destination was paused (Unix time); absent while it sends.",
            labels=LABELS,
        )
        for (tenant_id, destination_id), when in sorted(paused.items()):
            # A deleted retailer's line is left out rather than alerting forever.
            if tenant_id in slugs:
                paused_since.add_metric([slugs[tenant_id], str(destination_id)], when)
        yield deliveries
        yield oldest
        yield breaker
        yield paused_since


def metrics_text() -> bytes:
    registry = CollectorRegistry()
    registry.register(DeliveryCollector())
    return generate_latest(registry)
