"""Celery: settings that keep a task from being lost when Redis or a worker goes away."""

from datetime import timedelta

from celery.schedules import crontab

from .base import REDIS_URL
from .environment import env

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Acknowledge after the task ran and requeue it when the worker dies mid-task: a crash means
# the task runs again, never that it silently disappears. Tasks are written idempotent for this.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per worker process, so a busy worker does not sit on tasks others could run.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The hard limit must stay well below the visibility timeout, otherwise Redis hands a task that is
# still running to a second worker.
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 30
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A sign-up's fast-path hint must not hold the tablet's request for long when Redis is away: the
# delivery is already committed and the relay sends it anyway.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CRM_RELAY_INTERVAL_SECONDS = env.float("CRM_RELAY_INTERVAL_SECONDS", default=0.5)
CELERY_BEAT_SCHEDULE = {
    # The outbox relay: every due CRM delivery of every tenant goes to the workers, new sign-ups
    # included (they send no message of their own), so its interval is their latency. A run
    # not started within a few intervals is dropped: the next one does the same work.
    "crm-relay": {
        "task": "crm_sync.tasks.relay",
        "schedule": timedelta(seconds=CRM_RELAY_INTERVAL_SECONDS),
        "options": {"expires": max(5.0, 4 * CRM_RELAY_INTERVAL_SECONDS)},
    },
    # Delivered outbox rows past OUTBOX_RETENTION_DAYS are deleted in short batches.
    "outbox-retention-purge": {
        "task": "outbox.tasks.retention_purge",
        "schedule": crontab(minute=47),
    },
    # Tenants whose provisioning task was lost (Redis flushed, worker killed) get it again.
    "tenants-provision-pending": {
        "task": "tenants.tasks.tenants_provision_pending",
        "schedule": timedelta(minutes=1),
    },
    # Sign-ups past each retailer's retention period are deleted nightly, at a quiet hour.
    "signup-retention-purge": {
        "task": "signup.tasks.retention_purge_all",
        "schedule": crontab(hour=3, minute=17),
    },
    # Prepared sign-up exports whose download link ran out: their files are deleted.
    "signup-exports-purge": {
        "task": "signup.tasks.exports_purge_all",
        "schedule": crontab(minute=23),
    },
    # Retailers' alerts (tablet offline with sign-ups unsent, CRM paused): one sweep of every
    # schema, a task only for shops where an alert opens or closes (signup.services.notifications).
    "signup-alerts-check": {
        "task": "signup.tasks.alerts_check_all",
        "schedule": timedelta(minutes=10),
        "options": {"expires": 9 * 60},
    },
    # Scheduled exports and Monday digests, for shops whose morning it is in their time zone.
    "signup-morning-mail": {
        "task": "signup.tasks.morning_mail_all",
        "schedule": crontab(minute=5),
        "options": {"expires": 50 * 60},
    },
    # Sign-ups of the hour that ended go to Stripe's meter; seats and stale sign-ups are swept.
    # Ten past: the hour's last sign-ups are committed by then (billing.services.usage).
    "billing-usage-hourly": {
        "task": "billing.tasks.usage_hourly",
        "schedule": crontab(minute=10),
    },
    # Month-end closes run well inside the hour Stripe waits before finalising an invoice.
    "billing-periods-close": {
        "task": "billing.tasks.periods_close",
        "schedule": timedelta(minutes=5),
    },
    # Accounts whose webhooks were missed are fetched again (billing.services.resync); at forty
    # past, away from the usage job's requests to Stripe at ten past.
    "billing-accounts-resync": {
        "task": "billing.tasks.accounts_resync",
        "schedule": crontab(minute=40),
    },
    # Webhook events whose task was lost.
    "billing-events-pending": {
        "task": "billing.tasks.events_process_pending",
        "schedule": timedelta(minutes=2),
    },
    # Without Sentry, the day's recorded errors go to the operators (operations.error_reports).
    "operations-errors-digest": {
        "task": "operations.tasks.errors_digest",
        "schedule": crontab(hour=7, minute=5),
    },
}
