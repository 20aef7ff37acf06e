"""Celery adapters of the outbox: one service call each."""

from celery import shared_task

from . import services


@shared_task
def retention_purge() -> int:
    """Hourly: delivered rows past the retention period are deleted."""
    return services.deliveries_purge()
