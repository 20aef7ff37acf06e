"""The record of each backup job: started, then succeeded, failed or skipped."""

import logging
from typing import Any

from django.utils import timezone

from ..alerts import operators_alert
from ..models import BackupJob, JobKind, JobStatus

logger = logging.getLogger(__name__)


def job_start(*, kind: JobKind, backup_id: str = "") -> BackupJob:
    job = BackupJob.objects.create(kind=kind, backup_id=backup_id, started_at=timezone.now())
    logger.info("%s started", kind.label, extra={"job": job.pk, "backup_id": backup_id})
    return job


def job_finish(
    job: BackupJob, *, status: JobStatus, details: dict[str, Any], error: str = ""
) -> BackupJob:
    job.status = status
    job.finished_at = timezone.now()
    job.details = {
        **details,
        "seconds": round((job.finished_at - job.started_at).total_seconds(), 3),
    }
    job.error = error
    job.save()
    extra = {"job": job.pk, "backup_id": job.backup_id, "status": status, **job.details}
    if status == JobStatus.FAILED:
        logger.error("%s failed", JobKind(job.kind).label, extra={**extra, "error": error})
        operators_alert(
            subject=f"{JobKind(job.kind).label} {job.backup_id or ''} failed".replace("  ", " "),
            body=f"{error}\n\nJob {job.pk}, started {job.started_at:%Y-%m-%d %H:%M:%S} UTC.\n"
            f"Details: {job.details}",
        )
    else:
        logger.info("%s %s", JobKind(job.kind).label, status, extra=extra)
    return job
