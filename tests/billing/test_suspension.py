"""A suspended shop loses nothing: tablets keep capturing, CRM deliveries wait without spending
an attempt, and paying releases them."""

from collections.abc import Iterator

import pytest
from django.test import Client
from django_tenants.utils import tenant_context
from pytest_django import DjangoCaptureOnCommitCallbacks

from billing.services import access_apply
from crm_sync import services as crm
from crm_sync.providers.webhook import secret_generate
from outbox.models import DeliveryStatus
from tenants.models import Tenant, TenantAccess
from tests.conftest import host_of
from tests.crm_sync.factories import deliveries_of, sign_up, webhook_destination
from tests.crm_sync.fakes.webhook import FakeWebhookReceiver
from tests.signup.factories import Kiosk

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret() -> str:
    return secret_generate()


@pytest.fixture
def receiver(secret: str) -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(secrets=[secret]) as fake:
        yield fake


def test_a_suspended_shop_stores_sign_ups_holds_deliveries_and_sends_them_once_paid(
    kiosk: Kiosk,
    alice_tenant: Tenant,
    receiver: FakeWebhookReceiver,
    secret: str,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    destination = webhook_destination(url=receiver.url + "/hook", secret=secret)
    access_apply(tenant=alice_tenant, access=TenantAccess.SUSPENDED)
    alice_tenant.refresh_from_db()
    with tenant_context(alice_tenant):  # the task's view of the tenant: suspended
        submission_id = sign_up(kiosk, email="kept@example.com")
        [delivery] = deliveries_of(submission_id)
        crm.deliveries_send(destination_id=destination.pk, ids=[delivery.pk])
        [held] = deliveries_of(submission_id)
    assert (held.status, held.attempts) == (DeliveryStatus.HELD, 0)
    assert receiver.received == 0

    with django_capture_on_commit_callbacks(execute=True):
        assert access_apply(tenant=alice_tenant, access=TenantAccess.FULL)
    alice_tenant.refresh_from_db()
    with tenant_context(alice_tenant):
        [released] = deliveries_of(submission_id)
        assert released.status == DeliveryStatus.PENDING
        crm.deliveries_send(destination_id=destination.pk, ids=[released.pk])
        [sent] = deliveries_of(submission_id)
    assert sent.status == DeliveryStatus.DELIVERED
    assert receiver.received == 1


def test_the_kiosk_still_takes_sign_ups_while_the_portal_is_read_only(
    kiosk: Kiosk, alice_tenant: Tenant, owner_client: Client
) -> None:
    Tenant.objects.filter(pk=alice_tenant.pk).update(access=TenantAccess.SUSPENDED)
    payload = {
        "id": "4b0f7a5e-2c1d-4e8f-9a6b-3c2d1e0f9a8b",
        "form_version": kiosk.version.pk,
        "locale": "en",
        "captured_at": "2026-11-25T10:00:00Z",
        "answers": {"email": "shopper@example.com"},
        "consents": {"email": True},
    }
    answer = Client(HTTP_HOST=host_of(alice_tenant)).post(
        "/api/kiosk/submissions", payload, content_type="application/json", headers=kiosk.headers
    )
    assert answer.status_code == 201
    refused = owner_client.post("/stores/new/", {"name": "Another", "code": "another"})
    assert refused.status_code == 403
    assert b"Your account is suspended" in refused.content
    assert owner_client.get("/stores/").status_code == 200
