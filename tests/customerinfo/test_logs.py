import json
import logging
import sys

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from customerinfo.logs import ContextFilter, JsonFormatter, request_id_var
from tenants.models import Tenant


def _format(record: logging.LogRecord) -> dict[str, object]:
    ContextFilter().filter(record)
    result: dict[str, object] = json.loads(JsonFormatter().format(record))
    return result


def _record(message: str = "hello", **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("test", logging.INFO, __file__, 1, message, (), None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


@pytest.mark.django_db
def test_json_line_carries_request_id_schema_and_extras(alice_tenant: Tenant) -> None:
    token = request_id_var.set("abc123")
    try:
        with tenant_context(alice_tenant):
            line = _format(_record(tenant="alice"))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello"
    assert line["request_id"] == "abc123"
    assert line["schema"] == "t_alice"
    assert line["tenant"] == "alice"
    assert line["level"] == "INFO"


def test_exceptions_are_logged_with_their_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = _format(record)
    assert "ValueError: boom" in str(line["exception"])


@pytest.mark.django_db
def test_request_id_is_taken_from_the_proxy_and_echoed() -> None:
    response = Client(HTTP_X_REQUEST_ID="from-ingress-42").get("/healthz")
    assert response["X-Request-ID"] == "from-ingress-42"


@pytest.mark.django_db
def test_a_forged_request_id_is_replaced() -> None:
    response = Client(HTTP_X_REQUEST_ID='bad"\nid').get("/", HTTP_HOST="localhost")
    assert response["X-Request-ID"] != 'bad"\nid'
    assert len(response["X-Request-ID"]) == 32


def test_celery_s_per_task_chatter_is_quiet_but_failures_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The relay runs twice a second: its "received"/"succeeded" lines would flood the logs."""
    import logging

    with caplog.at_level(logging.INFO):
        for name in ("celery.app.trace", "celery.worker.strategy", "celery.beat"):
            logging.getLogger(name).info("Task crm_sync.tasks.relay succeeded in 0.006s: 0")
        logging.getLogger("celery.app.trace").error("Task crm_sync.tasks.deliver_due raised")
        # The stripe library's two lines per API call, likewise.
        logging.getLogger("stripe").info("message='Request to Stripe api' method=get")
        logging.getLogger("stripe").warning("message='Stripe API error received'")
    assert [record.getMessage() for record in caplog.records] == [
        "Task crm_sync.tasks.deliver_due raised",
        "message='Stripe API error received'",
    ]


def test_a_celery_worker_starts_with_the_logging_configuration() -> None:
    """Celery's worker exports CELERY_LOG_LEVEL as a number: no setting of ours may read a
    variable Celery writes, or the worker dies at start-up."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    environment = {**os.environ, "CELERY_LOG_LEVEL": "40", "CUSTOMERINFO_ENV": "test"}
    environment.pop("PYTEST_VERSION", None)
    checked = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('configured')"],
        cwd=Path(__file__).resolve().parents[2],
        env={**environment, "DJANGO_SETTINGS_MODULE": "customerinfo.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "configured" in checked.stdout
