"""Celery adapters for provisioning: ids in, one service call each."""

from customerinfo.celery import app

from . import services


@app.task(acks_late=True)
def tenant_provision_task(*, tenant_id: int) -> None:
    services.tenant_provision(tenant_id=tenant_id)


@app.task
def tenants_provision_pending() -> list[int]:
    return services.tenants_provision_pending()
