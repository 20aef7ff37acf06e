"""Prometheus figures of operations: backups, the Celery queue, and beat's heartbeat.

Every figure is read at scrape time from something every pod shares (the public schema, Redis),
so each web pod reports the same value and a restarted pod reports it at once. A scrape costs
a few indexed lookups and a few Redis round trips, whatever the number of retailers.
"""

import logging
import time
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from customerinfo.core.redis import redis_client, redis_key
from customerinfo.core.tenancy import use_public_schema

from .models import BackupJob, JobKind, JobStatus

logger = logging.getLogger(__name__)

#: (kind, status) -> the gauge of the newest such job's end. A job that never ended so reports 0,
#: which an alert on the age (``time() - value``) treats as very old.
GAUGES = {
    (JobKind.BACKUP, JobStatus.SUCCEEDED): (
        "customerinfo_backup_last_success_timestamp_seconds",
        "When the last backup that succeeded finished (Unix time; 0: never).",
    ),
    (JobKind.VERIFY, JobStatus.SUCCEEDED): (
        "customerinfo_backup_verify_last_success_timestamp_seconds",
        "When the last restore check that passed finished (Unix time; 0: never).",
    ),
    (JobKind.BACKUP, JobStatus.FAILED): (
        "customerinfo_backup_last_failure_timestamp_seconds",
        "When the last backup that failed finished (Unix time; 0: never).",
    ),
    (JobKind.VERIFY, JobStatus.FAILED): (
        "customerinfo_backup_verify_last_failure_timestamp_seconds",
        "When the last restore check that failed finished (Unix time; 0: never).",
    ),
}

#: Kombu's Redis transport keeps a queue's prioritised messages in sibling lists named
#: ``<queue>\x06\x16<priority>`` (its default priority steps): a queue's length is their sum.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (0, 3, 6, 9)


class BackupCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        use_public_schema()
        for (kind, status), (name, documentation) in GAUGES.items():
            # One backward step along backupjob_last_idx (kind, status, finished_at) each.
            finished = (
                BackupJob.objects.filter(kind=kind, status=status, finished_at__isnull=False)
                .order_by("-finished_at")
                .values_list("finished_at", flat=True)
                .first()
            )
            gauge = GaugeMetricFamily(name, documentation)
            gauge.add_metric([], finished.timestamp() if finished else 0.0)
            yield gauge


@lru_cache(maxsize=1)
def broker_client() -> redis.Redis:
    """The broker may be another Redis than the cache's (CELERY_BROKER_URL)."""
    return redis.Redis.from_url(
        settings.CELERY_BROKER_URL, socket_timeout=2, socket_connect_timeout=2
    )


def queue_lengths(client: redis.Redis, queues: list[str]) -> dict[str, int]:
    pipeline = client.pipeline(transaction=False)
    for queue in queues:
        for step in PRIORITY_STEPS:
            pipeline.llen(queue if step == 0 else f"{queue}{PRIORITY_SEPARATOR}{step}")
    lengths = pipeline.execute()
    steps = len(PRIORITY_STEPS)
    return {
        queue: sum(lengths[index * steps : (index + 1) * steps])
        for index, queue in enumerate(queues)
    }


class CeleryQueueCollector(Collector):
    """Tasks waiting in the broker for a worker, per queue the workers consume."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "customerinfo_celery_queue_length",
            "Tasks waiting in the broker for a worker.",
            labels=["queue"],
        )
        try:
            lengths = queue_lengths(broker_client(), list(settings.METRICS_CELERY_QUEUES))
        except redis.RedisError as error:
            # No figure rather than a wrong one: the scrape still reports everything else, and
            # the alert on a missing heartbeat says that Redis is away.
            logger.warning("metrics: broker unreachable", extra={"error": str(error)})
            return
        for queue, length in lengths.items():
            gauge.add_metric([queue], length)
        yield gauge


def beat_heartbeat_key() -> str:
    return redis_key("metrics", "beat-heartbeat")


def beat_heartbeat_record(*, now: float | None = None) -> None:
    """Called by beat after each tick (operations.beat); never stops beat when Redis is away."""
    try:
        redis_client().set(beat_heartbeat_key(), repr(time.time() if now is None else now))
    except redis.RedisError as error:
        logger.warning("beat heartbeat not recorded", extra={"error": str(error)})


class BeatHeartbeatCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            value: Any = redis_client().get(beat_heartbeat_key())
        except redis.RedisError as error:
            logger.warning("metrics: Redis unreachable", extra={"error": str(error)})
            return
        gauge = GaugeMetricFamily(
            "customerinfo_beat_heartbeat_timestamp_seconds",
            "When beat last ran its scheduler (Unix time; 0: never since Redis was emptied).",
        )
        gauge.add_metric([], float(value) if value else 0.0)
        yield gauge


def collectors() -> list[Collector]:
    return [BackupCollector(), CeleryQueueCollector(), BeatHeartbeatCollector()]


def metrics_text() -> bytes:
    registry = CollectorRegistry()
    for collector in collectors():
        registry.register(collector)
    return generate_latest(registry)
