"""Re-encrypts every CRM destination's credentials under the newest key."""

from typing import Any

from django.core.management.base import BaseCommand

from crm_sync.services import credentials_rotate_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every destination's credentials, in every tenant, under the first key of "
        "CRM_ENCRYPTION_KEYS. Run after putting a new key first; then drop the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = credentials_rotate_all()
        self.stdout.write(f"Re-encrypted the credentials of {count} destination(s).")
