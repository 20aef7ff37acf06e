"""/healthz, /readyz: liveness without dependencies, readiness that survives a Redis blip."""

import pytest
from django.db import connection
from django.test import Client
from pytest_django import Settings

from customerinfo import health
from customerinfo.embedded import free_port
from customerinfo.health import RedisReadiness

pytestmark = pytest.mark.django_db


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Each test starts as a fresh process would: Redis not reached yet, on a clock it drives."""
    fake = FakeClock()
    monkeypatch.setattr(health, "redis_readiness", RedisReadiness(clock=fake))
    return fake


def _break_redis(settings: Settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there


def test_healthz_answers_on_any_host_without_dependencies() -> None:
    response = Client(HTTP_HOST="10.1.2.3:8000").get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_redis_and_migrations() -> None:
    response = Client(HTTP_HOST="10.1.2.3").get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "migrations": "ok"}
    assert response.json()["status"] == "ok"


def test_readyz_names_the_failing_check(settings: Settings) -> None:
    _break_redis(settings)
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["redis"]
    assert body["checks"]["redis"].startswith("failed: not reached since this process started")


def test_a_redis_blip_keeps_the_pod_ready_and_says_so(settings: Settings, clock: FakeClock) -> None:
    settings.HEALTH_REDIS_GRACE_SECONDS = 60
    healthy_url = settings.REDIS_URL
    assert Client().get("/readyz").status_code == 200
    _break_redis(settings)
    clock.now += 5
    first = Client().get("/readyz")
    clock.now += 50
    later = Client().get("/readyz")
    for response in (first, later):
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"
        assert response.json()["failing"] == []
    assert later.json()["checks"]["redis"].startswith(
        "degraded: failing for 50 s, fails readiness after 60 s"
    )
    # Back before the grace ran out: the streak is over, the next failure starts a new one.
    settings.REDIS_URL = healthy_url
    assert Client().get("/readyz").json()["status"] == "ok"
    _break_redis(settings)
    clock.now += 100
    assert Client().get("/readyz").status_code == 200


def test_a_redis_outage_longer_than_the_grace_fails_readiness(
    settings: Settings, clock: FakeClock
) -> None:
    settings.HEALTH_REDIS_GRACE_SECONDS = 60
    assert Client().get("/readyz").status_code == 200
    _break_redis(settings)
    assert Client().get("/readyz").status_code == 200
    clock.now += 61
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["redis"]
    assert response.json()["checks"]["redis"].startswith("failed: failing for 61 s")


def test_readyz_reports_unapplied_public_migrations() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM public.django_migrations WHERE app = 'tenants'")
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]
