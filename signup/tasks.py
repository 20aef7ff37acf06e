"""Celery adapters of the sign-up app: names in, one service call each."""

from uuid import UUID

from celery import shared_task

from customerinfo.core.tasks import tenant_task
from customerinfo.core.tenancy import use_public_schema
from tenants.models import Tenant

from . import services

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
