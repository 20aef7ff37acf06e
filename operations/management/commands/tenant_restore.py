"""``manage.py tenant_restore <slug> --backup <id> --as <new-slug>``, or in place:
``manage.py tenant_restore <slug> --backup <id> --in-place --confirm <slug>``."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from operations.backups import tenant_restore
from operations.models import JobStatus


class Command(BaseCommand):
    help = (
        "Restores one shop from a backup: beside the live shop under a new slug (--as), or in "
        "place of it (--in-place --confirm <slug>; the live schema is kept aside until the "
        "restore has succeeded). docs/operations.md explains both."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The shop's slug as it was in the backup.")
        parser.add_argument("--backup", required=True, help="The backup id to restore from.")
        parser.add_argument("--as", dest="new_slug", help="Restore beside it, as this new slug.")
        parser.add_argument("--in-place", action="store_true", help="Replace the live shop's data.")
        parser.add_argument("--confirm", default="", help="With --in-place: the shop's slug again.")
        parser.add_argument(
            "--keep-aside",
            action="store_true",
            help="With --in-place: keep the replaced schema (r_<id>_<time>), do not drop it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        slug, new_slug, in_place = options["slug"], options["new_slug"], options["in_place"]
        if bool(new_slug) == in_place:
            raise CommandError("Give either --as <new-slug> or --in-place")
        if in_place and options["confirm"] != slug:
            raise CommandError(f"--in-place replaces {slug}'s data: confirm with --confirm {slug}")
        job = tenant_restore(
            slug=slug,
            backup_id=options["backup"],
            new_slug=new_slug,
            in_place=in_place,
            keep_aside=options["keep_aside"],
        )
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(f"Restore of {slug} failed: {job.error}")
        figures = " ".join(f"{key}={value}" for key, value in job.details.items())
        self.stdout.write(f"restored {slug} from {job.backup_id}: {figures}")
