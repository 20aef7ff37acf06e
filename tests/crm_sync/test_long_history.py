"""A destination with a long history: its page lists the newest deliveries without counting
them all, and its health reads the delivered tally, which outlives the purged rows."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from prometheus_client.parser import text_string_to_metric_families

from crm_sync import selectors
from crm_sync.models import Destination
from outbox.models import Delivery, DeliveryStatus
from outbox.services import deliveries_purge
from tenants.models import Tenant
from tests.signup.factories import Kiosk

from .conftest import Shop
from .factories import deliveries_of, send, sign_up


def test_the_page_lists_the_newest_deliveries_up_to_the_cap(
    owner: Client,
    alice_tenant: Tenant,
    kiosk: Kiosk,
    destination: Destination,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("crm_sync.views.PAGE_SIZE", 2)
    monkeypatch.setattr("crm_sync.selectors.PAGE_COUNT_CAP", 4)
    with tenant_context(alice_tenant):
        for number in range(5):
            sign_up(kiosk, email=f"shopper{number}@example.com")
    first = owner.get(f"/crm/{destination.pk}/").content.decode()
    assert "shopper4@example.com" in first
    assert "shopper3@example.com" in first
    assert "shopper2@example.com" not in first
    assert "Page 1 of 2 (the newest 4 deliveries; older ones are not listed)" in first
    last = owner.get(f"/crm/{destination.pk}/", {"page": "2"}).content.decode()
    assert "shopper1@example.com" in last
    assert "shopper0@example.com" not in last
    # Past the last page, the last page (as for any paginated list), never an error.
    assert owner.get(f"/crm/{destination.pk}/", {"page": "99"}).status_code == 200


def test_a_short_history_has_no_cap_note(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    with tenant_context(alice_tenant):
        sign_up(kiosk)
    page = owner.get(f"/crm/{destination.pk}/").content.decode()
    assert "older ones are not listed" not in page


def _metric(status: str, tenant: Tenant, destination: Destination) -> float:
    response = Client(HTTP_HOST="10.0.0.7").get("/metrics")
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            if sample.name == "customerinfo_crm_deliveries" and sample.labels == {
                "tenant": tenant.slug,
                "destination": str(destination.pk),
                "status": status,
            }:
                return sample.value
    raise AssertionError(f"no {status} sample")


def test_delivered_is_a_tally_that_outlives_the_purge(shop: Shop, settings: Any) -> None:
    with tenant_context(shop.tenant):
        first = deliveries_of(sign_up(shop.kiosk, email="s0@example.com"))[0]
        sign_up(shop.kiosk, email="s1@example.com")
        # One task sends both: the second is topped up from the due backlog.
        assert dict(send(first).counts) == {"delivered": 2}
        sign_up(shop.kiosk, email="s2@example.com")
        assert selectors.destinations_health()[shop.destination.pk].delivered == 2
    assert _metric("delivered", shop.tenant, shop.destination) == 2
    assert _metric("pending", shop.tenant, shop.destination) == 1

    settings.OUTBOX_RETENTION_DAYS = 30
    Delivery.objects.filter(status=DeliveryStatus.DELIVERED).update(
        delivered_at=timezone.now() - timedelta(days=31)
    )
    assert deliveries_purge() == 2
    assert _metric("delivered", shop.tenant, shop.destination) == 2, "a counter never goes down"
    assert _metric("pending", shop.tenant, shop.destination) == 1
    with tenant_context(shop.tenant):
        assert selectors.destinations_health()[shop.destination.pk].delivered == 2
