"""``manage.py backup_verify``: restore the newest backup into a scratch database and check it."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from operations.backups import backup_verify
from operations.models import JobStatus


class Command(BaseCommand):
    help = (
        "Restores the newest complete backup (or --backup) into a scratch database, compares "
        "it with its manifest, records the result and drops the scratch database. Exits 1 "
        "(and mails the operators) when anything differs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--backup", help="A backup id (default: the newest complete one).")

    def handle(self, *args: Any, **options: Any) -> None:
        job = backup_verify(backup_id=options["backup"])
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(f"Backup {job.backup_id or '-'} did not verify: {job.error}")
        figures = " ".join(f"{key}={value}" for key, value in job.details.items())
        self.stdout.write(f"backup={job.backup_id} status={job.status} {figures}")
