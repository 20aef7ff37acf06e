"""Beat's scheduler: the liveness file of customerinfo.core.heartbeat, plus a heartbeat that
Prometheus can see.

The file tells Kubernetes that this one pod's loop runs; the timestamp in Redis tells /metrics
(served by the web pods) that periodic work is being scheduled at all, which is what stops when
beat is scaled to zero, stuck in a crash loop, or never deployed.
"""

from typing import Any

from customerinfo.core.heartbeat import HeartbeatScheduler

from .metrics import beat_heartbeat_record


class BeatScheduler(HeartbeatScheduler):
    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = super().tick(*args, **kwargs)
        beat_heartbeat_record()
        return interval
