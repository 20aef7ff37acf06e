"""Celery adapters of CRM sync: names in, one service call each."""

from collections.abc import Sequence
from typing import Any

from celery import shared_task
from celery.signals import worker_process_shutdown

from customerinfo.core.tasks import tenant_task

from . import services
from .http import shared_clients_close


@tenant_task()
def deliver(*, schema_name: str, destination_id: int, ids: Sequence[int]) -> dict[str, int]:
    """Sends these deliveries of one destination; rows already sent or taken are skipped."""
    report = services.deliveries_send(destination_id=destination_id, ids=ids)
    return dict(report.counts)


@shared_task
def deliver_due(*, groups: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Sends the deliveries the relay handed out, of several destinations and tenants: each
    group names its ``schema_name``, ``destination_id`` and ``ids``."""
    return services.deliveries_send_groups(groups=groups)


@shared_task
def relay() -> int:
    """Every fraction of a second: hands every due delivery of every tenant to a worker."""
    return services.deliveries_relay()


@worker_process_shutdown.connect
def _close_clients(**_: Any) -> None:
    # Pooled connections to the CRMs are closed, not left for the CRM to time out.
    shared_clients_close()
