"""Retailer-supplied URLs cannot reach our own network in production."""

import socket
from typing import Any

import httpx
import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm_sync import services
from crm_sync.http import BlockedAddressError, address_check, send
from crm_sync.models import DestinationState
from outbox.models import DeliveryStatus
from tenants.models import Tenant
from tests.signup.factories import kiosk_create

from .factories import deliveries_of, sign_up, webhook_destination
from .fakes.webhook import FakeWebhookReceiver

PUBLIC = "93.184.216.34"


@pytest.fixture
def blocking(settings: Any) -> None:
    settings.CRM_BLOCK_PRIVATE_ADDRESSES = True


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused(url: str) -> None:
    with pytest.raises(BlockedAddressError):
        address_check(url)


def test_other_schemes_and_unknown_hosts_are_refused() -> None:
    with pytest.raises(BlockedAddressError, match="Only http and https"):
        address_check("ftp://example.com/")
    with pytest.raises(BlockedAddressError, match="cannot be resolved"):
        address_check("https://no-such-host.invalid/")


def test_a_public_address_passes() -> None:
    assert address_check(f"https://{PUBLIC}/hook") == PUBLIC


def test_the_request_goes_to_the_address_that_was_checked(
    blocking: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the second answer would be loopback, but no second lookup happens."""
    answers = iter([PUBLIC, "127.0.0.1"])

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with httpx.Client(transport=httpx.MockTransport(record)) as client:
        send(client, "POST", "https://crm.example.com:8443/hook?x=1", content=b"{}")
    (request,) = seen
    assert request.url.host == PUBLIC
    assert request.url.port == 8443
    assert request.url.path == "/hook"
    assert request.headers["Host"] == "crm.example.com:8443"
    assert request.extensions["sni_hostname"] == "crm.example.com"


def test_a_destination_pointing_inside_is_paused_not_sent(
    blocking: None, alice_tenant: Tenant
) -> None:
    with FakeWebhookReceiver(secrets=[]) as receiver, tenant_context(alice_tenant):
        kiosk = kiosk_create()
        # A name is not resolved when saved (DNS answers change); it is when sending.
        destination = webhook_destination(url=receiver.url.replace("127.0.0.1", "localhost"))
        (delivery,) = deliveries_of(sign_up(kiosk))
        services.deliveries_send(destination_id=destination.pk, ids=[delivery.pk])
        destination.refresh_from_db()
        delivery.refresh_from_db()
        assert receiver.requests == []
    assert destination.state == DestinationState.PAUSED
    assert "private, loopback or link-local" in destination.paused_reason
    assert delivery.status == DeliveryStatus.HELD
    assert delivery.updated_at <= timezone.now()
