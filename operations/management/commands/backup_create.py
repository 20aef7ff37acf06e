"""``manage.py backup_create``: one backup of the whole database, for a CronJob."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from operations.backups import backup_create
from operations.models import JobStatus


class Command(BaseCommand):
    help = (
        "Dumps every schema from one snapshot with a manifest of what it holds, uploads both "
        "to BACKUP_STORAGE and applies the retention policy. Exits 1 (and mails the "
        "operators) on failure; 0 when another backup is already running."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        job = backup_create()
        if job.status == JobStatus.FAILED:
            raise CommandError(f"Backup {job.backup_id} failed: {job.error}")
        self.stdout.write(f"backup={job.backup_id} status={job.status} {_figures(job.details)}")


def _figures(details: dict[str, Any]) -> str:
    return " ".join(
        f"{key}={value}" for key, value in details.items() if not isinstance(value, list)
    )
