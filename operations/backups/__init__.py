"""Backups that are proven: made from one snapshot, checked by restoring them, one shop
restorable on its own. docs/operations.md, "Backups and restore", says how to use them."""

from .create import backup_create
from .restore import tenant_restore
from .storage import backup_storage, backups_to_keep, newest_backup
from .verify import backup_verify

__all__ = [
    "backup_create",
    "backup_storage",
    "backup_verify",
    "backups_to_keep",
    "newest_backup",
    "tenant_restore",
]
