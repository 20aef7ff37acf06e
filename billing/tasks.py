"""Celery adapters of billing: ids in, one service call each. Beat's schedule is in
customerinfo/settings/celery.py."""

from celery import shared_task

from . import services
from .metrics import closes_summary_record
from .models import BillingAccount


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=5, max_retries=8)
def event_process_task(*, event_id: str) -> bool:
    """One webhook event; retried with backoff (Stripe's API may be the one failing)."""
    return services.event_process(event_id=event_id)


@shared_task
def events_process_pending() -> int:
    """Every few minutes: events whose task was lost."""
    return services.events_process_pending()


@shared_task(acks_late=True)
def seats_sync_task(*, account_id: int) -> bool:
    account = BillingAccount.objects.select_related("tenant").get(pk=account_id)
    return services.seats_sync(account=account)


@shared_task
def usage_hourly() -> dict[str, int]:
    """Each hour: count the hour that ended, send what is unsent, sweep seats, free stale
    sign-ups."""
    return {
        "counted": services.usage_count(),
        "sent": services.usage_send(),
        "seats": services.seats_sync_all(),
        "expired": services.trial_signups_expire(),
    }


@shared_task
def accounts_resync() -> dict[str, int]:
    """Each hour: accounts not synced for a while (their webhooks may have been missed)."""
    return services.accounts_resync()


@shared_task
def periods_close() -> dict[str, int]:
    """Every five minutes: month-end closes whose period has ended."""
    outcome = services.periods_close()
    # Only after a run that finished: a run that raises leaves the figures' time growing old.
    closes_summary_record()
    return outcome
