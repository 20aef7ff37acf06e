"""The Celery app. Tasks bind to it through ``shared_task``; tenant work uses
``customerinfo.core.tasks.tenant_task``, which runs each task inside the schema it names."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customerinfo.settings")

app = Celery("customerinfo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The worker's liveness file (a no-op unless CELERY_HEARTBEAT_FILE is set); beat's comes from
# CELERY_BEAT_SCHEDULER. Named, not imported: the probe runs that module with `python -m`, which
# must find it not yet imported by this package.
app.steps["consumer"].add("customerinfo.core.heartbeat:HeartbeatFileStep")
