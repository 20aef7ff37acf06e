"""Celery adapters of the sign-up app: names in, one service call each."""

from datetime import UTC
from uuid import UUID

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from customerinfo.core.tasks import tenant_task
from customerinfo.core.tenancy import use_public_schema
from tenants.models import Tenant

from . import services
from .selectors import notifications as notification_selectors
from .services import notifications, scheduled_exports

#: An export of millions of rows takes minutes, beyond the default limit of five; the hard
#: limit stays at half the broker's visibility timeout (an hour), so Redis never hands a
#: running export to a second worker.
EXPORT_TIME_LIMIT = 30 * 60


def _ready_schemas() -> list[str]:
    use_public_schema()
    return list(Tenant.objects.filter(ready=True).values_list("schema_name", flat=True))


@tenant_task()
def retention_purge_task(*, schema_name: str) -> int:
    """Deletes one retailer's sign-ups older than its retention period; returns how many."""
    return services.retention_purge()


@shared_task
def retention_purge_all() -> list[str]:
    """Daily fan-out: one purge task per ready tenant, so one slow tenant delays no other."""
    schemas = _ready_schemas()
    for schema_name in schemas:
        retention_purge_task.delay(schema_name=schema_name)
    return schemas


@tenant_task(time_limit=EXPORT_TIME_LIMIT, soft_time_limit=EXPORT_TIME_LIMIT - 60)
def export_run_task(*, schema_name: str, export_id: str) -> None:
    """Writes one requested sign-ups export to storage and emails the manager who asked."""
    services.export_run(export_id=UUID(export_id))


@tenant_task()
def exports_purge_task(*, schema_name: str) -> int:
    """Deletes one retailer's expired export files; returns how many."""
    return services.exports_purge()


@shared_task
def exports_purge_all() -> list[str]:
    """Hourly fan-out, as for retention: an export's file outlives its link by under an hour."""
    schemas = _ready_schemas()
    for schema_name in schemas:
        exports_purge_task.delay(schema_name=schema_name)
    return schemas


@tenant_task()
def alerts_check_task(*, schema_name: str) -> int:
    """Opens and closes one retailer's alert episodes, mailing who chose them; returns how many
    changed."""
    return len(notifications.alerts_check())


@shared_task
def alerts_check_all() -> list[str]:
    """Every ten minutes: one sweep over every schema finds the retailers where an alert opens
    or closes, and only those get a task."""
    schemas = _ready_schemas()
    try:
        changed = notification_selectors.schemas_with_alert_changes(
            schemas=schemas, now=timezone.now()
        )
    except DatabaseError:
        # A schema still migrating lacks a table the sweep reads: check each retailer alone
        # this time, the others are not held back by it.
        changed = schemas
    for schema_name in changed:
        alerts_check_task.delay(schema_name=schema_name)
    return changed


@tenant_task()
def morning_mail_task(*, schema_name: str) -> tuple[int, int]:
    """One retailer's scheduled exports and Monday digests; returns (exports, digests)."""
    return scheduled_exports.morning_mail_send()


@shared_task
def morning_mail_all() -> list[str]:
    """Hourly: retailers whose morning it is (their own time zone) make their scheduled exports
    and, on Monday, send their digests."""
    schemas = _ready_schemas()
    now = timezone.now()
    try:
        zones = notification_selectors.zones_by_schema(schemas=schemas)
    except DatabaseError:
        zones = {}
    due = [
        schema_name
        for schema_name in schemas
        if now.astimezone(zones.get(schema_name, UTC)).hour in scheduled_exports.MORNING_HOURS
    ]
    for schema_name in due:
        morning_mail_task.delay(schema_name=schema_name)
    return due
