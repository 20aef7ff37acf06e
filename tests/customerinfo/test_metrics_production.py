"""/metrics in production: the process refuses to start without METRICS_TOKEN, and serves the
figures to that token alone. Each case runs Django with production settings in a fresh
interpreter, since settings are read once per process."""

import json
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from tests.customerinfo.test_settings import PRODUCTION, run_django

#: Three scrapes through the whole middleware stack of a production process.
SCRAPE = """
import json
from django.test import Client
client = Client(HTTP_HOST="10.0.0.7:8000")
token = {"Authorization": "Bearer " + __import__("django.conf").conf.settings.METRICS_TOKEN}
answers = {
    "none": client.get("/metrics").status_code,
    "wrong": client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code,
}
right = client.get("/metrics", headers=token)
answers["right"] = right.status_code
answers["body"] = right.content.decode()
print(json.dumps(answers))
"""


def test_production_refuses_to_start_without_a_metrics_token() -> None:
    missing = {k: v for k, v in PRODUCTION.items() if k != "METRICS_TOKEN"}
    result = run_django(missing, "check")
    assert result.returncode != 0
    assert "Set the METRICS_TOKEN environment variable" in result.stderr
    empty = run_django({**PRODUCTION, "METRICS_TOKEN": "  "}, "check")
    assert empty.returncode != 0
    assert "production never serves /metrics without a token" in empty.stderr


def test_the_token_may_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "metrics-token"
    secret.write_text("token-from-a-secret-volume")
    environment = {k: v for k, v in PRODUCTION.items() if k != "METRICS_TOKEN"}
    result = run_django(
        {**environment, "METRICS_TOKEN_FILE": str(secret)},
        "shell",
        "-c",
        "from django.conf import settings; print(settings.METRICS_TOKEN)",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "token-from-a-secret-volume"


@pytest.mark.django_db
def test_production_serves_metrics_to_the_token_alone() -> None:
    # The test database and Redis (the tables exist; this test's rows are not visible there).
    database = connection.settings_dict
    environment = {
        **PRODUCTION,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
        f"/{database['NAME']}",
        "REDIS_URL": django_settings.REDIS_URL,
    }
    result = run_django(environment, "shell", "-c", SCRAPE)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert (answers["none"], answers["wrong"], answers["right"]) == (401, 401, 200)
    assert "customerinfo_beat_heartbeat_timestamp_seconds" in answers["body"]
