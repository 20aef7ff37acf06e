"""A CRM destination's health in the portal: the list's figures, a paused destination
explained, test connection, pause and resume, secret rotation, a CRM that is not installed.

Real HTTP to a webhook receiver on loopback, never a mock. Every test builds its data through the
services and then talks to the portal as alice (owner), bob (manager) or a staff member; the
shared fixtures (receiver, destination, owner, manager) are in conftest.py.
"""

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from crm_sync import limits
from crm_sync.models import Destination, DestinationState
from crm_sync.providers import PROVIDERS
from customerinfo.core.models import AuditEntry
from outbox.models import Delivery, DeliveryStatus
from tenants.models import Tenant
from tests.signup.factories import Kiosk

from .conftest import NAME, Shop
from .factories import deliveries_of, sign_up, webhook_destination
from .fakes.webhook import FakeWebhookReceiver
from .support import reload, stored_credentials

pytestmark = pytest.mark.django_db


# --- list --------------------------------------------------------------------------------------


def test_the_list_shows_each_destination_with_its_health(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    with tenant_context(alice_tenant):
        _, dead = deliveries_of(sign_up(kiosk)) + deliveries_of(sign_up(kiosk))
        Delivery.objects.filter(pk=dead.pk).update(status=DeliveryStatus.DEAD)
        scope = f"{alice_tenant.pk}:{destination.pk}"
        for _ in range(limits.BREAKER_THRESHOLD):
            limits.breaker_record(scope=scope, success=False)
    page = owner.get("/crm/").content.decode()
    assert 'href="/crm/" aria-current="page"' in page
    assert f'<a href="/crm/{destination.pk}/">{NAME}</a>' in page
    assert "Webhook (Standard Webhooks)" in page
    assert f'href="/crm/{destination.pk}/?status=dead"><strong>1</strong>' in page
    assert "under 1 min" in page  # the oldest pending sign-up's age
    assert "Open" in page  # the breaker


def test_an_empty_list_says_how_to_start(owner: Client) -> None:
    page = owner.get("/crm/").content.decode()
    assert "No CRM connected yet" in page
    assert 'href="/crm/new/"' in page


def test_a_paused_destination_is_shown_with_its_reason_and_what_to_do(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    with tenant_context(alice_tenant):
        sign_up(kiosk)
        from crm_sync import services

        services.destination_pause(destination=destination, reason="401: bad signature")
    for path in ("/crm/", f"/crm/{destination.pk}/"):
        page = owner.get(path).content.decode()
        assert f"Sign-ups to “{NAME}” are on hold" in page
        assert "401: bad signature" in page
        assert "1 sign-up is held" in page
        assert f'href="/crm/{destination.pk}/edit/"' in page
        assert "Press “Resume”" in page


# --- test connection ---------------------------------------------------------------------------


def test_test_connection_inline_says_it_works(
    owner: Client, alice_tenant: Tenant, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    page = owner.get(f"/crm/{destination.pk}/").content.decode()
    assert f'hx-post="/crm/{destination.pk}/test/"' in page
    response = owner.post(f"/crm/{destination.pk}/test/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.startswith('<div id="test-result"')  # only the verdict, no page around it
    assert "The connection works." in fragment
    assert "The CRM answered <strong>204</strong>" in fragment
    assert receiver.received == 1
    with tenant_context(alice_tenant):
        entry = AuditEntry.objects.get(action="destination.test")
        assert entry.new == {"verdict": "delivered", "status_code": 204}


def test_test_connection_shows_a_refusal_with_its_status_and_message(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, receiver: FakeWebhookReceiver
) -> None:
    with tenant_context(alice_tenant):
        # Signed with a secret the receiver does not know: it answers 401.
        destination = webhook_destination(url=receiver.url + "/hooks", name=NAME)
    fragment = owner.post(f"/crm/{destination.pk}/test/", HTTP_HX_REQUEST="true")
    text = fragment.content.decode()
    assert "These settings or credentials do not work." in text
    assert "<strong>401</strong>" in text
    assert "bad signature" in text
    # Without HTMX the same verdict comes back as a message on the destination's page.
    response = owner.post(f"/crm/{destination.pk}/test/")
    assert response["Location"] == f"/crm/{destination.pk}/"
    page = owner.get(response["Location"]).content.decode()
    assert "These settings or credentials do not work. Status 401." in page
    # A test is only a test: it neither pauses the destination nor touches deliveries.
    assert reload(alice_tenant, destination).state == DestinationState.ACTIVE


# --- pause, resume, rotate ---------------------------------------------------------------------


def test_pause_holds_and_resume_says_how_many_are_replayed(
    manager: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    with tenant_context(alice_tenant):
        first, second = deliveries_of(sign_up(kiosk)) + deliveries_of(sign_up(kiosk))
    response = manager.post(
        f"/crm/{destination.pk}/pause/", {"reason": "CRM maintenance tonight"}, follow=True
    )
    page = response.content.decode()
    assert "is paused. New sign-ups are kept and held until you resume." in page
    assert "CRM maintenance tonight" in page
    assert "Resume and resend 2 held sign-ups" in page
    paused = reload(alice_tenant, destination)
    assert (paused.state, paused.paused_reason) == ("paused", "CRM maintenance tonight")
    with tenant_context(alice_tenant):
        assert {row.status for row in Delivery.objects.filter(pk__in=[first.pk, second.pk])} == {
            DeliveryStatus.HELD
        }
    # Pausing again changes nothing and says so.
    page = manager.post(f"/crm/{destination.pk}/pause/", follow=True).content.decode()
    assert "is already paused" in page
    page = manager.post(f"/crm/{destination.pk}/resume/", follow=True).content.decode()
    assert "is active again. 2 held deliveries will be sent again, gradually." in page
    assert reload(alice_tenant, destination).state == DestinationState.ACTIVE
    with tenant_context(alice_tenant):
        assert {row.status for row in Delivery.objects.filter(pk__in=[first.pk, second.pk])} == {
            DeliveryStatus.PENDING
        }
        assert AuditEntry.objects.filter(action="destination.resume").count() == 1
    page = manager.post(f"/crm/{destination.pk}/resume/", follow=True).content.decode()
    assert "is not paused" in page


def test_pause_without_a_reason_names_who_paused(
    owner: Client, alice_tenant: Tenant, destination: Destination
) -> None:
    owner.post(f"/crm/{destination.pk}/pause/", {"reason": ""})
    assert reload(alice_tenant, destination).paused_reason == "Paused by alice@alice.example."
    # A reason too long for the form falls back the same way instead of failing.
    owner.post(f"/crm/{destination.pk}/resume/")
    owner.post(f"/crm/{destination.pk}/pause/", {"reason": "x" * 600})
    assert reload(alice_tenant, destination).paused_reason == "Paused by alice@alice.example."


def test_rotating_the_secret_shows_the_new_one_once_and_keeps_the_old_one_signing(
    owner: Client,
    alice_tenant: Tenant,
    destination: Destination,
    secret: str,
    receiver: FakeWebhookReceiver,
) -> None:
    response = owner.post(f"/crm/{destination.pk}/rotate-secret/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    credentials = stored_credentials(alice_tenant, destination)
    new = credentials["secret"]
    assert new != secret
    assert credentials["previous_secret"] == secret
    page = response.content.decode()
    assert new in page
    assert "keeps signing beside this one for 24 hours" in page
    assert new not in owner.get(f"/crm/{destination.pk}/").content.decode()
    # The receiver still knows only the old secret, and still accepts the test.
    fragment = owner.post(f"/crm/{destination.pk}/test/", HTTP_HX_REQUEST="true")
    assert "The connection works." in fragment.content.decode()


def test_a_destination_whose_provider_is_not_installed_is_shown_but_never_called(
    owner: Client, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As after a rollback to a release without this CRM: its rows stay, its code is gone.
    monkeypatch.delitem(PROVIDERS, "webhook")
    pk = shop.destination.pk
    page = owner.get(f"/crm/{pk}/").content.decode()
    assert "is not available yet: nothing is sent to it" in page
    with tenant_context(shop.tenant):
        from crm_sync import services

        services.destination_pause(destination=shop.destination, reason="gone")
    for action in ("test", "replay", "resume"):
        response = owner.post(f"/crm/{pk}/{action}/", follow=True)
        assert response.status_code == 200, action
        assert "destinations are not available yet." in response.content.decode()
    assert shop.receiver.requests == []
    assert reload(shop.tenant, shop.destination).state == DestinationState.PAUSED
