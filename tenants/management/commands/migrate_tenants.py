"""``manage.py migrate_tenants``: migrate public, the template, and only the schemas behind."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import tenants_migrate


class Command(BaseCommand):
    help = (
        "Migrates the public schema and the template, then finds with one query which tenant "
        "schemas are behind and brings only those up to date in worker processes, each schema "
        "in one transaction. Safe to re-run after an interruption: it continues with the rest."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.TENANT_MIGRATION_WORKERS,
            help="How many worker processes migrate schemas (default: TENANT_MIGRATION_WORKERS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = tenants_migrate(workers=options["workers"], progress=self.stdout.write)
        self.stdout.write(
            f"checked={report.checked} behind={len(report.behind)} "
            f"migrated={len(report.migrated)} failed={len(report.failed)} "
            f"seconds={report.seconds:.2f}"
        )
        if report.failed:
            raise CommandError(
                "Migration failed for: "
                + ", ".join(sorted(report.failed))
                + ". See tenants.SchemaMigration in the admin; re-run to retry."
            )
