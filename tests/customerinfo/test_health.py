"""/healthz, /readyz: liveness without dependencies, readiness that survives a Redis blip;
/metrics: behind its token, and only on the pod's address and the public host."""

import pytest
from django.db import connection
from django.test import Client
from pytest_django import Settings

from customerinfo import health
from customerinfo.embedded import free_port
from customerinfo.health import RedisReadiness
from tenants.models import Domain, Tenant
from tests.customerinfo.metrics_scrape import POD_ADDRESS, scrape

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


# --- /metrics: behind its token, on the pod's address, never on a shop's host -----------------

FAMILIES = {
    "customerinfo_backup_last_success_timestamp_seconds",
    "customerinfo_backup_verify_last_success_timestamp_seconds",
    "customerinfo_backup_last_failure_timestamp_seconds",
    "customerinfo_backup_verify_last_failure_timestamp_seconds",
    "customerinfo_celery_queue_length",
    "customerinfo_beat_heartbeat_timestamp_seconds",
    "customerinfo_billing_closes",
    "customerinfo_billing_close_last_success_timestamp_seconds",
    "customerinfo_billing_close_checked_timestamp_seconds",
}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_metrics_with_a_token_refuse_anyone_without_it(settings: Settings) -> None:
    settings.METRICS_TOKEN = "scrape-token-0123456789"
    client = Client(HTTP_HOST=POD_ADDRESS)
    for headers in ({}, _bearer("wrong"), _bearer(""), {"Authorization": "Basic c2NyYXBl"}):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"
        assert b"customerinfo_" not in response.content
    names = {name for name, _ in scrape(token="scrape-token-0123456789")}
    assert names >= FAMILIES


@pytest.mark.parametrize("host", ["10.1.2.3:8000", "[fd00::7]:8000", "10.1.2.3", "localhost"])
def test_metrics_answer_on_the_pod_address_and_the_public_host(
    settings: Settings, host: str
) -> None:
    settings.METRICS_TOKEN = "scrape-token-0123456789"
    response = Client(HTTP_HOST=host).get("/metrics", headers=_bearer(settings.METRICS_TOKEN))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")


def test_metrics_are_not_served_on_a_shops_host(
    settings: Settings, alice_tenant: Tenant, alice_client: Client
) -> None:
    """A shop's host answers /metrics as it answers any path it does not have: 404."""
    settings.METRICS_TOKEN = "scrape-token-0123456789"
    token = _bearer(settings.METRICS_TOKEN)
    unknown = alice_client.get("/no-such-page/", headers=token)
    assert unknown.status_code == 404
    response = alice_client.get("/metrics", headers=token)
    assert response.status_code == 404
    assert b"customerinfo_" not in response.content
    assert response.content == unknown.content.replace(b"/no-such-page/", b"/metrics")
    # A host under the base domain that is no shop, and a shop's own domain.
    Domain.objects.create(domain="signup.alice-shop.example", tenant=alice_tenant, is_primary=False)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "signup.alice-shop.example"]
    for host in (f"nobody.{settings.BASE_DOMAIN}", "signup.alice-shop.example"):
        response = Client(HTTP_HOST=host).get("/metrics", headers=token)
        assert response.status_code == 404, host
        assert b"customerinfo_" not in response.content
