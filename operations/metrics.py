"""Prometheus figures of backups: when each kind of job last succeeded.

Read from operations.BackupJob at scrape time, so every pod reports the same value. A job that
never succeeded reports 0, which an alert on the age (``time() - value``) treats as very old.
"""

from collections.abc import Iterator

from django.db.models import Max
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from customerinfo.core.tenancy import use_public_schema

from .models import BackupJob, JobKind, JobStatus

GAUGES = {
    JobKind.BACKUP: (
        "customerinfo_backup_last_success_timestamp_seconds",
        "When the last backup that succeeded finished (Unix time; 0: never).",
    ),
    JobKind.VERIFY: (
        "customerinfo_backup_verify_last_success_timestamp_seconds",
        "When the last restore check that passed finished (Unix time; 0: never).",
    ),
}


class BackupCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        use_public_schema()
        newest = dict(
            BackupJob.objects.filter(status=JobStatus.SUCCEEDED, kind__in=list(GAUGES))
            .values("kind")
            .annotate(finished=Max("finished_at"))
            .values_list("kind", "finished")
        )
        for kind, (name, documentation) in GAUGES.items():
            gauge = GaugeMetricFamily(name, documentation)
            finished = newest.get(kind)
            gauge.add_metric([], finished.timestamp() if finished else 0.0)
            yield gauge


def metrics_text() -> bytes:
    registry = CollectorRegistry()
    registry.register(BackupCollector())
    return generate_latest(registry)
