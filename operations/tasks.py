"""Celery adapters of operations. Beat's schedule is in customerinfo/settings/celery.py."""

from smtplib import SMTPException

from celery import shared_task

from .error_reports import errors_digest as errors_digest_send


@shared_task(
    acks_late=True, autoretry_for=(SMTPException, OSError), retry_backoff=60, max_retries=5
)
def errors_digest() -> int:
    """Daily, without Sentry: the day's errors to the operators; returns how many kinds."""
    digest = errors_digest_send()
    return digest.errors if digest else 0
