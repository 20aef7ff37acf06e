"""Prometheus figures of the month-end close, kept as a summary in Redis.

The close job (billing.tasks.periods_close, every five minutes) counts the closes that failed or
disagree with Stripe once it has run, and writes those counts to one Redis hash; /metrics reads
the hash. A scrape thus never reads the closes' history, and a job that stops running shows as a
``checked`` time that grows old rather than as figures that stay reassuring.
"""

import logging
import time
from collections.abc import Iterator
from typing import Any

import redis
from django.db.models import Count, Max
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from customerinfo.core.redis import redis_client, redis_key

from .models import CloseState, PeriodClose

logger = logging.getLogger(__name__)

#: The states an operator must act on, reported even when none is in them (0).
ALARMING = (CloseState.FAILED, CloseState.MISMATCH)


def summary_key() -> str:
    return redis_key("metrics", "billing-close")


def closes_summary_record(*, now: float | None = None) -> dict[str, float]:
    """Counts the closes in each alarming state and the newest success; stores and returns them."""
    counts = dict(
        PeriodClose.objects.filter(state__in=ALARMING)
        .values("state")
        .annotate(total=Count("pk"))
        .values_list("state", "total")
    )
    newest = PeriodClose.objects.filter(closed_at__isnull=False).aggregate(newest=Max("closed_at"))
    summary: dict[str, float] = {state: float(counts.get(state, 0)) for state in ALARMING}
    summary["last_success"] = newest["newest"].timestamp() if newest["newest"] else 0.0
    summary["checked"] = time.time() if now is None else now
    try:
        redis_client().hset(summary_key(), mapping={k: repr(v) for k, v in summary.items()})
    except redis.RedisError as error:
        # The closes themselves are written; only the figures wait for the next run.
        logger.warning("billing close summary not recorded", extra={"error": str(error)})
    return summary


class CloseCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            stored: Any = redis_client().hgetall(summary_key())
        except redis.RedisError as error:
            logger.warning("metrics: Redis unreachable", extra={"error": str(error)})
            return
        summary = {key.decode(): float(value) for key, value in stored.items()}
        closes = GaugeMetricFamily(
            "customerinfo_billing_closes",
            "Month-end closes that failed or disagree with Stripe, as the close job last counted.",
            labels=["state"],
        )
        for state in ALARMING:
            closes.add_metric([str(state)], summary.get(state, 0.0))
        yield closes
        success = GaugeMetricFamily(
            "customerinfo_billing_close_last_success_timestamp_seconds",
            "When the newest close that reconciled with Stripe was done (Unix time; 0: never).",
        )
        success.add_metric([], summary.get("last_success", 0.0))
        yield success
        checked = GaugeMetricFamily(
            "customerinfo_billing_close_checked_timestamp_seconds",
            "When the close job last finished a run (Unix time; 0: never since Redis was emptied).",
        )
        checked.add_metric([], summary.get("checked", 0.0))
        yield checked
