"""What /metrics says of operations: backups and restore checks, the Celery queue, beat."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery import Celery
from pytest_django import Settings

from customerinfo.core.redis import redis_client
from operations.beat import BeatScheduler
from operations.metrics import PRIORITY_SEPARATOR, broker_client
from operations.models import BackupJob, JobKind, JobStatus
from tests.customerinfo.metrics_scrape import of_family, scrape

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _job(kind: str, status: str, finished_at: datetime | None) -> None:
    BackupJob.objects.create(
        kind=kind, status=status, started_at=NOON - timedelta(days=30), finished_at=finished_at
    )


def test_backups_report_the_newest_success_and_failure_of_each_kind() -> None:
    _job(JobKind.BACKUP, JobStatus.SUCCEEDED, NOON - timedelta(days=2))
    _job(JobKind.BACKUP, JobStatus.SUCCEEDED, NOON - timedelta(days=1))
    _job(JobKind.BACKUP, JobStatus.FAILED, NOON)
    _job(JobKind.BACKUP, JobStatus.RUNNING, None)
    _job(JobKind.VERIFY, JobStatus.SUCCEEDED, NOON - timedelta(hours=3))
    # A shop restore is neither a backup nor a check.
    _job(JobKind.RESTORE, JobStatus.FAILED, NOON + timedelta(hours=1))
    samples = scrape()
    assert (
        samples["customerinfo_backup_last_success_timestamp_seconds", ()]
        == (NOON - timedelta(days=1)).timestamp()
    )
    assert samples["customerinfo_backup_last_failure_timestamp_seconds", ()] == NOON.timestamp()
    assert (
        samples["customerinfo_backup_verify_last_success_timestamp_seconds", ()]
        == (NOON - timedelta(hours=3)).timestamp()
    )
    assert samples["customerinfo_backup_verify_last_failure_timestamp_seconds", ()] == 0


def test_queue_length_counts_every_priority_of_each_consumed_queue(settings: Settings) -> None:
    queues = [f"metrics-test-{uuid.uuid4().hex}", f"metrics-test-{uuid.uuid4().hex}"]
    settings.METRICS_CELERY_QUEUES = queues
    broker = broker_client()
    try:
        broker.rpush(queues[0], "a", "b", "c")
        broker.rpush(f"{queues[0]}{PRIORITY_SEPARATOR}6", "d")
        samples = scrape()
        assert of_family(samples, "customerinfo_celery_queue_length") == {
            (("queue", queues[0]),): 4,
            (("queue", queues[1]),): 0,
        }
    finally:
        broker.delete(queues[0], f"{queues[0]}{PRIORITY_SEPARATOR}6")


def test_beat_records_its_heartbeat_on_every_tick(tmp_path: Path) -> None:
    heartbeat = "customerinfo_beat_heartbeat_timestamp_seconds"
    assert scrape()[heartbeat, ()] == 0
    app = Celery("metrics-beat-test", broker="memory://", set_as_current=False)
    scheduler = BeatScheduler(app, schedule_filename=str(tmp_path / "schedule"))
    try:
        before = datetime.now(UTC).timestamp()
        scheduler.tick()
        first = scrape()[heartbeat, ()]
        assert first >= before
        scheduler.tick()
        assert scrape()[heartbeat, ()] >= first
    finally:
        scheduler.close()
        app.close()


def test_a_broken_redis_leaves_out_its_figures_and_keeps_the_rest(settings: Settings) -> None:
    from customerinfo.embedded import free_port

    broker_client.cache_clear()
    redis_client.cache_clear()
    settings.CELERY_BROKER_URL = settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    try:
        samples = scrape()
    finally:
        broker_client.cache_clear()
        redis_client.cache_clear()
    names = {name for name, _ in samples}
    assert "customerinfo_celery_queue_length" not in names
    assert "customerinfo_beat_heartbeat_timestamp_seconds" not in names
    assert "customerinfo_backup_last_success_timestamp_seconds" in names
