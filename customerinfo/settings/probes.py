"""Kubernetes probes: how the worker and beat prove they are alive, how /readyz treats Redis."""

from .environment import env

#: The worker and beat touch this file while their loop runs; the chart's exec liveness probe
#: (``python -m customerinfo.core.heartbeat``) checks its age. Empty turns it off (development).
CELERY_HEARTBEAT_FILE: str = env.str("CELERY_HEARTBEAT_FILE", default="")
#: Beat's file scheduler, touching the heartbeat file after each tick.
CELERY_BEAT_SCHEDULER = "customerinfo.core.heartbeat:HeartbeatScheduler"
#: Beat ticks at least this often, so its heartbeat stays far younger than the probe's limit
#: even if no task were due for hours.
CELERY_BEAT_MAX_LOOP_INTERVAL = 30

#: A Redis failure must have lasted this long before /readyz fails on it: every web pod shares
#: the one Redis, so failing readiness on a blip would empty the Service at once. Until a process
#: has reached Redis once, it is not ready at all (a new release with a wrong REDIS_URL stops).
HEALTH_REDIS_GRACE_SECONDS: float = env.float("HEALTH_REDIS_GRACE_SECONDS", default=60.0)
