"""Celery adapters of CRM sync: names in, one service call each."""

from collections.abc import Sequence

from celery import shared_task

from customerinfo.core.tasks import tenant_task

from . import services


@tenant_task()
def deliver(*, schema_name: str, destination_id: int, ids: Sequence[int]) -> dict[str, int]:
    """Sends these deliveries of one destination; rows already sent or taken are skipped."""
    report = services.deliveries_send(destination_id=destination_id, ids=ids)
    return dict(report.counts)


@shared_task
def relay() -> int:
    """Every few seconds: hands every due delivery of every tenant to a worker."""
    return services.deliveries_relay()
