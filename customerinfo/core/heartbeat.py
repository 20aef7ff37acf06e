"""Liveness for the Celery worker and beat: a file their main loop touches, and its checker.

Neither process serves HTTP, so Kubernetes learns that they are alive from the age of a file.
The worker touches it from its consumer's timer, which runs on the same event loop that takes
messages from the broker: a consumer stuck on a dead connection or a deadlock stops touching it,
while tasks running long in the pool's child processes do not. Beat touches it after each tick
of its scheduler. The chart's exec probe runs ``python -m customerinfo.core.heartbeat PATH
--max-age SECONDS``; an empty ``CELERY_HEARTBEAT_FILE`` (development, tests) turns it all off.
"""

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from celery import bootsteps
from celery.beat import PersistentScheduler

#: How often the worker touches its file; the probe's max age must be a few of these.
WORKER_INTERVAL_SECONDS = 10.0


def heartbeat_path() -> Path | None:
    """The configured heartbeat file, or None when liveness files are off."""
    from django.conf import settings

    configured: str = settings.CELERY_HEARTBEAT_FILE
    return Path(configured) if configured else None


def touch(path: Path) -> None:
    path.touch()


def age_seconds(path: Path, *, now: float | None = None) -> float | None:
    """Seconds since the file was last touched, or None when it does not exist."""
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return None
    return (time.time() if now is None else now) - modified


def check(path: Path, *, max_age: float) -> str | None:
    """None when the file is fresh, else why the process counts as dead."""
    age = age_seconds(path)
    if age is None:
        return f"{path} does not exist: the loop has not started or has stopped"
    if age > max_age:
        return f"{path} was last touched {age:.0f} s ago (limit {max_age:.0f} s)"
    return None


class HeartbeatFileStep(bootsteps.StartStopStep):
    """A consumer step: touches the heartbeat file from the consumer's timer while it runs.

    It starts once the task consumer is set up, and the consumer stops its steps while it
    reconnects to the broker, so a worker that cannot reach Redis stops beating too.
    """

    requires = ("celery.worker.consumer.tasks:Tasks",)
    interval = WORKER_INTERVAL_SECONDS

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.path = heartbeat_path()
        self.timer_entry: Any = None

    def start(self, parent: Any) -> None:
        if self.path is None:
            return
        touch(self.path)
        self.timer_entry = parent.timer.call_repeatedly(self.interval, touch, (self.path,))

    def stop(self, parent: Any) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    def shutdown(self, parent: Any) -> None:
        # A stopped worker must not look alive to the next container in the same pod volume.
        self.stop(parent)
        if self.path is not None:
            self.path.unlink(missing_ok=True)


class HeartbeatScheduler(PersistentScheduler):
    """Beat's file scheduler, touching the heartbeat file after every tick.

    A tick happens at least every ``beat_max_loop_interval`` seconds, which the settings keep
    well under the probe's max age.
    """

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval = super().tick(*args, **kwargs)
        path = heartbeat_path()
        if path is not None:
            touch(path)
        return interval


def main(argv: list[str] | None = None) -> int:
    """The exec probe: exit 0 while the file is fresh, 1 (with the reason) otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m customerinfo.core.heartbeat",
        description="Succeeds while a Celery heartbeat file is younger than --max-age.",
    )
    parser.add_argument("path", type=Path)
    parser.add_argument("--max-age", type=float, required=True, help="seconds")
    arguments = parser.parse_args(argv)
    problem = check(arguments.path, max_age=arguments.max_age)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
