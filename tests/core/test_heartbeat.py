"""The worker's and beat's liveness file: touched by their loops, judged by the probe's checker."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from pytest_django import Settings

from customerinfo.celery import app as project_app
from customerinfo.core import heartbeat
from customerinfo.core.heartbeat import HeartbeatFileStep, HeartbeatScheduler, check, main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def heartbeat_file(tmp_path: Path, settings: Settings) -> Path:
    path = tmp_path / "celery-heartbeat"
    settings.CELERY_HEARTBEAT_FILE = str(path)
    return path


def _age_file(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_a_fresh_file_passes_and_a_stale_or_missing_one_fails(tmp_path: Path) -> None:
    path = tmp_path / "beat"
    missing = check(path, max_age=60)
    assert missing is not None
    assert "does not exist" in missing
    path.touch()
    assert check(path, max_age=60) is None
    _age_file(path, 125)
    stale = check(path, max_age=60)
    assert stale is not None
    assert "125 s ago (limit 60 s)" in stale


def test_the_probe_command_exits_by_the_files_age(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "worker"
    path.touch()
    assert main([str(path), "--max-age", "90"]) == 0
    _age_file(path, 300)
    assert main([str(path), "--max-age", "90"]) == 1
    assert "limit 90 s" in capsys.readouterr().err


def test_the_probe_runs_as_a_module_without_django_settings(tmp_path: Path) -> None:
    """Kubernetes runs it with the container's environment only, every few seconds."""
    path = tmp_path / "worker"
    path.touch()
    environment = {"PATH": os.environ["PATH"]}
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [sys.executable, "-m", "customerinfo.core.heartbeat", str(path), "--max-age", "30"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_the_project_worker_and_beat_use_the_heartbeat(settings: Settings) -> None:
    assert "customerinfo.core.heartbeat:HeartbeatFileStep" in project_app.steps["consumer"]
    assert project_app.conf.beat_scheduler == "operations.beat:BeatScheduler"
    # Beat must tick (and touch its file) far more often than the chart's 120 s limit.
    assert project_app.conf.beat_max_loop_interval <= 30


@pytest.fixture
def memory_app() -> Iterator[Celery]:
    """A worker on the in-memory broker: the consumer loop runs for real, without Redis."""
    app = Celery(
        "heartbeat-test", broker="memory://", backend="cache+memory://", set_as_current=False
    )
    app.conf.worker_hijack_root_logger = False
    # The memory transport polls; its default second would make every shutdown take seconds.
    app.conf.broker_transport_options = {"polling_interval": 0.01}
    app.steps["consumer"].add("customerinfo.core.heartbeat:HeartbeatFileStep")
    yield app
    app.close()
    # start_worker makes its app the current and default one. Code that finds tasks through
    # current_app (the outbox wakes the CRM sender by name) would otherwise reach this app's
    # copies of the project's tasks for the rest of the session.
    project_app.set_current()
    project_app.set_default()


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_running_worker_keeps_touching_the_file_and_removes_it_on_shutdown(
    memory_app: Celery, heartbeat_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(HeartbeatFileStep, "interval", 0.05)
    with start_worker(memory_app, perform_ping_check=False, shutdown_timeout=10):
        assert _wait_for(heartbeat_file.exists)
        first = heartbeat_file.stat().st_mtime_ns
        assert _wait_for(lambda: heartbeat_file.stat().st_mtime_ns > first)
    assert not heartbeat_file.exists()


def test_without_a_configured_file_the_worker_step_does_nothing(settings: Settings) -> None:
    settings.CELERY_HEARTBEAT_FILE = ""
    consumer_without_timer = SimpleNamespace()  # touching the timer would raise
    step = HeartbeatFileStep(consumer_without_timer)
    step.start(consumer_without_timer)
    step.shutdown(consumer_without_timer)
    assert step.path is None
    assert step.timer_entry is None


def test_beat_touches_the_file_on_every_tick(heartbeat_file: Path, tmp_path: Path) -> None:
    app = Celery("heartbeat-beat-test", broker="memory://", set_as_current=False)
    scheduler = HeartbeatScheduler(app, schedule_filename=str(tmp_path / "schedule"))
    try:
        scheduler.tick()
        assert check(heartbeat_file, max_age=5) is None
        _age_file(heartbeat_file, 600)
        scheduler.tick()
        assert check(heartbeat_file, max_age=5) is None
    finally:
        scheduler.close()
        app.close()


def test_beat_without_a_configured_file_writes_nothing(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CELERY_HEARTBEAT_FILE = ""
    touched: list[Path] = []
    monkeypatch.setattr(heartbeat, "touch", touched.append)
    app = Celery("heartbeat-beat-off", broker="memory://", set_as_current=False)
    scheduler = HeartbeatScheduler(app, schedule_filename=str(tmp_path / "schedule"))
    try:
        scheduler.tick()
        assert touched == []
    finally:
        scheduler.close()
        app.close()
