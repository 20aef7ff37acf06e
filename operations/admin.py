"""The operator's view of backup jobs and recorded errors: read-only, the jobs write them."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import BackupJob, ErrorReport


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BackupJob)
class BackupJobAdmin(ReadOnlyAdmin):
    list_display = ["kind", "backup_id", "status", "started_at", "finished_at"]
    list_filter = ["kind", "status"]


@admin.register(ErrorReport)
class ErrorReportAdmin(ReadOnlyAdmin):
    list_display = ["exception_type", "origin", "count", "pending", "first_seen", "last_seen"]
    search_fields = ["exception_type", "origin", "message"]
