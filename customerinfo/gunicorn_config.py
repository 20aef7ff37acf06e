"""Gunicorn's settings for the web process: its lines in the application's JSON log format.

The image's default command, which the Helm chart's web container runs too:

    gunicorn customerinfo.wsgi:application --config python:customerinfo.gunicorn_config \\
        --bind 0.0.0.0:8000 --workers 3

Each access line is one JSON object shaped like the application's own (customerinfo.logs), with
the method, path, status, duration and the request id the application answered with, so one id
finds a request in both. Gunicorn's own lines (start-up, worker restarts) get the same shape.
``LOG_FORMAT=text`` keeps gunicorn's classic lines, as it keeps plain lines for the application.
"""

import os
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from gunicorn.config import Config
from gunicorn.glogging import Logger

from customerinfo.logs import JsonFormatter


def response_header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in headers if key.lower() == wanted), None)


def access_fields(
    response: Any, environ: dict[str, Any], request_time: timedelta
) -> dict[str, object]:
    """What an access line carries besides the message, from gunicorn's response and environ."""
    status = str(response.status).split(None, 1)[0]
    # The id the application answered with (customerinfo.logs.RequestContextMiddleware), else
    # the one the ingress sent, for a request that never reached Django.
    request_id = response_header(getattr(response, "headers", []), "X-Request-ID")
    return {
        "method": environ.get("REQUEST_METHOD", "-"),
        # The path without its query string: queries carry tokens that do not belong in logs.
        "path": environ.get("PATH_INFO", ""),
        "status": int(status) if status.isdigit() else status,
        "duration_ms": round(request_time.total_seconds() * 1000, 3),
        "bytes": getattr(response, "sent", None) or 0,
        "remote_addr": environ.get("REMOTE_ADDR", "-"),
        "host": environ.get("HTTP_HOST", "-"),
        "user_agent": environ.get("HTTP_USER_AGENT", "-"),
        "request_id": request_id or environ.get("HTTP_X_REQUEST_ID") or "-",
    }


class JsonLogger(Logger):
    """Gunicorn's logger, writing the access and error logs as JSON lines."""

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        formatter = JsonFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.cfg.accesslog:
            return
        fields = access_fields(resp, environ, request_time)
        message = f"{fields['method']} {fields['path']} {fields['status']}"
        self.access_log.info(message, extra=fields)


def logger_class_for(log_format: str) -> type[Logger]:
    return JsonLogger if log_format == "json" else Logger


#: Memory-backed on Linux and in containers; gunicorn's documentation recommends it there.
SHARED_MEMORY = "/dev/shm"  # noqa: S108 - a directory gunicorn writes into, no predictable name


def shared_memory_directory() -> str | None:
    """The shared-memory directory when this machine has a writable one, else gunicorn's default."""
    return SHARED_MEMORY if os.access(SHARED_MEMORY, os.W_OK) else None


# Gunicorn reads the lower-case names below as its settings.
accesslog = "-"
errorlog = "-"
# The application's LOG_FORMAT (customerinfo.settings.logging), read here before Django is.
logger_class = logger_class_for(os.environ.get("LOG_FORMAT", "json"))
# Workers signal they are alive by touching a file, in /tmp by default: on a node's busy disk
# (the chart's /tmp is an emptyDir) a slow write can get a healthy worker killed; memory cannot.
worker_tmp_dir = shared_memory_directory()
