"""Celery adapters for provisioning: ids in, one service call each."""

from celery import shared_task

from . import services


@shared_task(acks_late=True)
def tenant_provision_task(*, tenant_id: int) -> None:
    services.tenant_provision(tenant_id=tenant_id)


@shared_task
def tenants_provision_pending() -> list[int]:
    return services.tenants_provision_pending()
