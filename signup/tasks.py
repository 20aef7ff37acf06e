"""Celery adapters of the sign-up app: names in, one service call each."""

from celery import shared_task

from customerinfo.core.tasks import tenant_task
from customerinfo.core.tenancy import use_public_schema
from tenants.models import Tenant

from . import services


@tenant_task()
def retention_purge_task(*, schema_name: str) -> int:
    """Deletes one retailer's sign-ups older than its retention period; returns how many."""
    return services.retention_purge()


@shared_task
def retention_purge_all() -> list[str]:
    """Daily fan-out: one purge task per ready tenant, so one slow tenant delays no other."""
    use_public_schema()
    schemas = list(Tenant.objects.filter(ready=True).values_list("schema_name", flat=True))
    for schema_name in schemas:
        retention_purge_task.delay(schema_name=schema_name)
    return schemas
