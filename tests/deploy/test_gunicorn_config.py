"""The web process's gunicorn config: access and error lines in the application's JSON shape.

One test starts gunicorn with the config, the way the image's CMD does, on a loopback socket
of its own against the test settings; the others exercise the logger class in this process.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from types import ModuleType, SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from customerinfo import gunicorn_config
from customerinfo.gunicorn_config import JsonLogger, access_fields, logger_class_for
from tests.deploy.support import REPO_ROOT, venv_executable

CONFIG = "python:customerinfo.gunicorn_config"


def _get(url: str, request_id: str) -> int:
    request = urllib.request.Request(url, headers={"X-Request-ID": request_id})  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        status: int = response.status
        return status


def _wait_until_served(url: str, process: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn stopped while starting"
        try:
            _get(url, "warm-up")
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer {url} within {timeout} s")


@pytest.mark.slow
def test_gunicorn_writes_one_json_object_per_access_line() -> None:
    # The listening socket is ours and handed over (fd://), so no other process can take the port
    # between choosing it and binding it.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    environment = {**os.environ, "CUSTOMERINFO_ENV": "test", "LOG_FORMAT": "json"}
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [
            str(venv_executable("gunicorn")),
            "customerinfo.wsgi:application",
            "--config",
            CONFIG,
            "--bind",
            f"fd://{listener.fileno()}",
            "--workers",
            "1",
        ],
        cwd=REPO_ROOT,
        env=environment,
        pass_fds=[listener.fileno()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    listener.close()
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        _wait_until_served(url, process)
        assert _get(url + "?token=not-for-logs", "from-the-ingress-7") == 200
    finally:
        process.terminate()
        stdout, stderr = process.communicate(timeout=30)
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    (access,) = [line for line in lines if line["request_id"] == "from-the-ingress-7"]
    assert access["logger"] == "gunicorn.access"
    assert access["method"] == "GET"
    assert access["path"] == "/healthz"
    assert access["status"] == 200
    assert isinstance(access["duration_ms"], float)
    assert access["duration_ms"] >= 0
    assert access["message"] == "GET /healthz 200"
    assert "not-for-logs" not in stdout
    # Gunicorn's own lines (start-up, shutdown) have the same shape.
    errors = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(line["logger"] == "gunicorn.error" for line in errors), stderr


def _response(status: str, headers: list[tuple[str, str]]) -> SimpleNamespace:
    return SimpleNamespace(status=status, headers=headers, sent=42)


ENVIRON = {
    "REQUEST_METHOD": "POST",
    "PATH_INFO": "/api/kiosk/signups",
    "QUERY_STRING": "secret=1",
    "REMOTE_ADDR": "10.0.0.7",
    "HTTP_HOST": "alice.customerinfo.test",
    "HTTP_USER_AGENT": "kiosk/2",
}


def test_access_fields_carry_the_application_s_request_id() -> None:
    response = _response("201 Created", [("Content-Type", "json"), ("x-request-id", "abc")])
    fields = access_fields(response, ENVIRON, timedelta(milliseconds=12, microseconds=345))
    assert fields == {
        "method": "POST",
        "path": "/api/kiosk/signups",
        "status": 201,
        "duration_ms": 12.345,
        "bytes": 42,
        "remote_addr": "10.0.0.7",
        "host": "alice.customerinfo.test",
        "user_agent": "kiosk/2",
        "request_id": "abc",
    }


def test_a_request_that_never_reached_django_keeps_the_ingress_id() -> None:
    environ = {**ENVIRON, "HTTP_X_REQUEST_ID": "from-ingress"}
    fields = access_fields(_response("400 Bad Request", []), environ, timedelta(0))
    assert fields["request_id"] == "from-ingress"
    without = access_fields(_response("400 Bad Request", []), ENVIRON, timedelta(0))
    assert without["request_id"] == "-"


@pytest.fixture
def gunicorn_loggers() -> Iterator[None]:
    """Gunicorn's loggers are process-wide: leave them as they were found."""
    names = ("gunicorn.error", "gunicorn.access")
    before = {name: list(logging.getLogger(name).handlers) for name in names}
    yield
    for name in names:
        logging.getLogger(name).handlers[:] = before[name]


def _config(accesslog: str | None) -> Config:
    config = Config()
    config.set("accesslog", accesslog)
    config.set("errorlog", "-")
    return config


@pytest.mark.usefixtures("gunicorn_loggers")
def test_access_and_error_lines_are_json(capsys: pytest.CaptureFixture[str]) -> None:
    logger = JsonLogger(_config("-"))
    logger.error("worker timeout (pid:%s)", 7)
    response = _response("200 OK", [("X-Request-ID", "r-1")])
    logger.access(response, None, ENVIRON, timedelta(milliseconds=3))
    captured = capsys.readouterr()
    (error,) = [json.loads(line) for line in captured.err.splitlines()]
    assert (error["logger"], error["level"]) == ("gunicorn.error", "ERROR")
    assert error["message"] == "worker timeout (pid:7)"
    (access,) = [json.loads(line) for line in captured.out.splitlines()]
    assert access["request_id"] == "r-1"
    assert access["status"] == 200


@pytest.mark.usefixtures("gunicorn_loggers")
def test_no_access_line_without_an_access_log(capsys: pytest.CaptureFixture[str]) -> None:
    logger = JsonLogger(_config(None))
    logger.access(_response("200 OK", []), None, ENVIRON, timedelta(0))
    assert capsys.readouterr().out == ""


def test_text_log_format_keeps_gunicorn_s_own_lines() -> None:
    assert logger_class_for("text") is Logger
    assert logger_class_for("json") is JsonLogger


def test_every_setting_of_the_config_is_one_gunicorn_knows() -> None:
    """Gunicorn skips names it does not know without a word: a typo would lose a setting."""
    settings = {
        name
        for name, value in vars(gunicorn_config).items()
        if name.islower()
        and not name.startswith("_")
        and not isinstance(value, ModuleType)
        and getattr(value, "__name__", None) != name  # the module's own functions
    }
    assert {"accesslog", "errorlog", "logger_class", "worker_tmp_dir"} <= settings
    assert settings <= Config().settings.keys()
    assert gunicorn_config.accesslog == "-"


def test_heartbeat_files_go_to_memory_when_there_is_some(monkeypatch: pytest.MonkeyPatch) -> None:
    assert gunicorn_config.shared_memory_directory() in {None, gunicorn_config.SHARED_MEMORY}
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert gunicorn_config.shared_memory_directory() is None
