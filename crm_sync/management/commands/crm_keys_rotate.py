"""Re-encrypts every shop's CRM credentials under the first key of CRM_ENCRYPTION_KEYS.

Resumable: rows already under the newest key are skipped, so a run that stopped (or was stopped
by --limit) continues where it was when it is started again. Exits 1 while anything is left
under an older key or cannot be read, so a script can wait for 0 before removing the old key.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from crm_sync.services.key_rotation import credentials_keys_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every shop's CRM credentials under the first key of CRM_ENCRYPTION_KEYS, "
        "in short batches; re-run to resume. Remove the old key once it reports done."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=100, help="rows per transaction (default 100)"
        )
        parser.add_argument(
            "--limit", type=int, default=None, help="rewrite at most this many rows in this run"
        )
        parser.add_argument(
            "--check", action="store_true", help="rewrite nothing; count what is left"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        def progress(schema: str, rewritten: int, remaining: int) -> None:
            self.stdout.write(f"{schema}: rewritten={rewritten} remaining={remaining}")

        report = credentials_keys_rotate(
            batch_size=options["batch_size"],
            limit=options["limit"],
            check_only=options["check"],
            progress=progress,
        )
        for schema, destination_id in report.unreadable:
            self.stderr.write(
                f"{schema}: destination {destination_id} cannot be read with any configured key; "
                "the retailer must enter its credentials again"
            )
        self.stdout.write(
            f"shops={report.shops} rewritten={report.rewritten} current={report.current} "
            f"remaining={report.remaining} unreadable={len(report.unreadable)} "
            f"done={'yes' if report.done else 'no'}"
        )
        if not report.done:
            raise SystemExit(1)
