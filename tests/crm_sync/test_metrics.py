"""Prometheus metrics of CRM delivery, served on the pod's address like the probes."""

from typing import Any

from django.test import Client
from django_tenants.utils import tenant_context
from prometheus_client.parser import text_string_to_metric_families

from outbox.models import Delivery, DeliveryStatus
from tenants.models import Tenant
from tests.signup.factories import kiosk_create

from .factories import deliveries_of, sign_up, webhook_destination


def test_metrics_report_each_destination_of_each_tenant(alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        kiosk = kiosk_create()
        destination = webhook_destination(url="http://127.0.0.1:9/hook")
        sign_up(kiosk)
        dead = deliveries_of(sign_up(kiosk))[0]
        Delivery.objects.filter(pk=dead.pk).update(status=DeliveryStatus.DEAD)
    response = Client(HTTP_HOST="10.0.0.7").get("/metrics")
    assert response.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }
    labels = (("destination", str(destination.pk)), ("tenant", "alice"))

    def by_status(status: str) -> float:
        return samples["customerinfo_crm_deliveries", tuple(sorted((*labels, ("status", status))))]

    assert by_status("pending") == 1
    assert by_status("dead") == 1
    assert by_status("delivered") == 0
    assert samples["customerinfo_crm_oldest_pending_seconds", labels] >= 0
    assert samples["customerinfo_crm_breaker_open", labels] == 0


def test_metrics_need_the_token_when_one_is_set(settings: Any, db: None) -> None:
    settings.METRICS_TOKEN = "scrape-secret"
    client = Client(HTTP_HOST="10.0.0.7")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret")
    assert response.status_code == 200
    assert b"customerinfo_crm_deliveries" in response.content


def test_a_paused_destination_shows_until_it_resumes_even_with_nothing_held(
    alice_tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    """The pause is the figure, not its held deliveries: none may be waiting."""
    from django.utils import timezone

    from crm_sync.paused import paused_key
    from crm_sync.services import destination_pause, destination_resume
    from customerinfo.core.redis import redis_client

    redis_client().delete(paused_key())
    family = "customerinfo_crm_destination_paused_timestamp_seconds"

    def paused_figures() -> dict[tuple[tuple[str, str], ...], float]:
        response = Client(HTTP_HOST="10.0.0.7").get("/metrics")
        return {
            tuple(sorted(sample.labels.items())): sample.value
            for parsed in text_string_to_metric_families(response.content.decode())
            for sample in parsed.samples
            if sample.name == family
        }

    with tenant_context(alice_tenant):
        destination = webhook_destination(url="http://127.0.0.1:9/hook")
        before = timezone.now().timestamp()
        with django_capture_on_commit_callbacks(execute=True):
            destination_pause(destination=destination, reason="401 from the CRM")
    labels = (("destination", str(destination.pk)), ("tenant", "alice"))
    figures = paused_figures()
    assert list(figures) == [labels]
    assert before - 1 <= figures[labels] <= timezone.now().timestamp()
    assert not Delivery.objects.filter(destination_id=destination.pk).exists()

    with tenant_context(alice_tenant), django_capture_on_commit_callbacks(execute=True):
        destination_resume(actor=None, destination=destination)
    assert paused_figures() == {}


def test_a_deleted_retailer_s_pause_is_left_out(db: None) -> None:
    from crm_sync.paused import paused_key
    from customerinfo.core.redis import redis_client

    redis_client().delete(paused_key())
    redis_client().hset(paused_key(), "987654:1", "1700000000.0")
    response = Client(HTTP_HOST="10.0.0.7").get("/metrics")
    assert response.status_code == 200
    assert b"customerinfo_crm_destination_paused_timestamp_seconds{" not in response.content
