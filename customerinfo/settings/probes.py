"""Kubernetes probes and Prometheus: how the worker and beat prove they are alive, how /readyz
treats Redis, and who may read /metrics."""

from django.core.exceptions import ImproperlyConfigured

from .environment import SECRETS_REQUIRED, env, required

#: The worker and beat touch this file while their loop runs; the chart's exec liveness probe
#: (``python -m customerinfo.core.heartbeat``) checks its age. Empty turns it off (development).
CELERY_HEARTBEAT_FILE: str = env.str("CELERY_HEARTBEAT_FILE", default="")
#: Beat's file scheduler, touching the heartbeat file after each tick and recording the time in
#: Redis for /metrics (customerinfo_beat_heartbeat_timestamp_seconds).
CELERY_BEAT_SCHEDULER = "operations.beat:BeatScheduler"
#: Beat ticks at least this often, so its heartbeat stays far younger than the probe's limit
#: even if no task were due for hours.
CELERY_BEAT_MAX_LOOP_INTERVAL = 30

#: A Redis failure must have lasted this long before /readyz fails on it: every web pod shares
#: the one Redis, so failing readiness on a blip would empty the Service at once. Until a process
#: has reached Redis once, it is not ready at all (a new release with a wrong REDIS_URL stops).
HEALTH_REDIS_GRACE_SECONDS: float = env.float("HEALTH_REDIS_GRACE_SECONDS", default=60.0)

#: Token that Prometheus must send as ``Authorization: Bearer …`` to read /metrics
#: (``X_FILE``-able). Required in production: /metrics names every retailer, so it is never open
#: there. Elsewhere an empty token leaves it open, which is what ``make run`` and the tests want.
METRICS_TOKEN: str = required("METRICS_TOKEN", development_default="")
if SECRETS_REQUIRED and not METRICS_TOKEN.strip():
    raise ImproperlyConfigured(
        "METRICS_TOKEN is empty: production never serves /metrics without a token"
    )
#: The broker's lists whose length /metrics reports: the queues the chart's workers consume.
METRICS_CELERY_QUEUES: list[str] = env.list("METRICS_CELERY_QUEUES", default=["default"])
