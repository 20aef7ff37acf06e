"""Tablets in the portal: status per store, pairing code shown once, revoke locks the tablet out."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from customerinfo.core.models import AuditEntry
from customerinfo.core.portal import age
from signup import services
from signup.models import Device, PairingCode
from tenants.models import Tenant
from tests.conftest import login
from tests.signup.factories import device_create, form_create, location_create, staff_create

pytestmark = pytest.mark.django_db


def test_ages_read_naturally() -> None:
    assert age(timedelta(seconds=20)) == "under 1 min"
    assert age(timedelta(minutes=4)) == "4 min"
    assert age(timedelta(hours=2, minutes=5)) == "2 h"
    assert age(timedelta(days=3)) == "3 d"


def test_tablets_show_status_queue_and_revocation(
    alice_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        location = location_create()
        location_create(code="empty", name="Empty store")
        online, _ = device_create(location, name="Till online")
        offline, _ = device_create(location, name="Till offline")
        queued, _ = device_create(location, name="Till queued")
        revoked, _ = device_create(location, name="Till revoked")
    now = timezone.now()
    with tenant_context(alice_tenant):
        services.device_heartbeat(
            device=online, app_version="kiosk-1", queue_depth=0, oldest_unsent_at=None
        )
        services.device_heartbeat(
            device=queued,
            app_version="kiosk-1",
            queue_depth=3,
            oldest_unsent_at=now - timedelta(hours=2, minutes=3),
        )
        Device.objects.filter(pk=offline.pk).update(last_seen_at=now - timedelta(minutes=4))
        services.device_revoke(actor=None, device=revoked)
        sam = staff_create()
    login(alice_client, alice_tenant, sam)
    page = alice_client.get("/tablets/").content.decode()
    assert "3 unsent, oldest 2 h" in page
    assert "Online" in page
    assert "4 min ago" in page
    assert "Revoked" in page
    assert "Empty store" in page
    assert "No tablet in this store." in page
    assert "Pair a tablet" not in page  # staff only look
    assert "/revoke/" not in page


def test_pairing_code_is_shown_once(manager_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        location = location_create()
    page = manager_client.get(f"/tablets/pair/?location={location.pk}").content.decode()
    assert f'<option value="{location.pk}" selected>' in page
    response = manager_client.post(
        "/tablets/pair/", {"location": location.pk, "device_name": "Till 2"}
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    code = response.context["code"]
    assert code in response.content.decode()
    assert "/kiosk/" in response.content.decode()
    with tenant_context(alice_tenant):
        pairing = PairingCode.objects.get()
        assert code.split("-")[1] not in pairing.secret_hash  # only its hash is kept
        assert AuditEntry.objects.filter(action="device.pairing_code").exists()
    later = manager_client.get("/tablets/").content.decode()
    assert code not in later
    assert "Till 2 at Paris Rivoli" in later  # waiting, without its code
    with tenant_context(alice_tenant):
        device, _ = services.device_pair(code=code)
        assert device.name == "Till 2"


def test_pairing_needs_a_store_and_a_name(manager_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        location = location_create()
    response = manager_client.post("/tablets/pair/", {"location": location.pk, "device_name": ""})
    assert b"This field is required." in response.content
    response = manager_client.post(
        "/tablets/pair/", {"location": location.pk, "device_name": "   "}
    )
    assert response.status_code == 200
    with tenant_context(alice_tenant):
        assert not PairingCode.objects.exists()


def test_revoke_asks_first_then_locks_the_tablet_out(
    manager_client: Client, alice_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form_create()
        location = location_create()
        device, token = device_create(location)
    # The tablet: every request carries its device token.
    kiosk = Client(
        HTTP_HOST=alice_client.defaults["HTTP_HOST"], HTTP_AUTHORIZATION=f"Device {token}"
    )
    assert kiosk.get("/api/kiosk/form").status_code == 200
    confirm = manager_client.get(f"/tablets/{device.pk}/revoke/")
    assert b"Revoke this tablet" in confirm.content
    assert kiosk.get("/api/kiosk/form").status_code == 200  # asking revokes nothing
    response = manager_client.post(f"/tablets/{device.pk}/revoke/", follow=True)
    assert "is revoked" in response.content.decode()
    assert kiosk.get("/api/kiosk/form").status_code == 401
    with tenant_context(alice_tenant):
        entry = AuditEntry.objects.get(action="device.revoke")
        assert entry.new == {"revoked": True}
    page = manager_client.get(f"/tablets/{device.pk}/revoke/").content.decode()
    assert "was revoked on" in page


def test_a_queue_without_its_age_and_a_refused_code(
    manager_client: Client, alice_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from customerinfo.core.errors import ServiceError

    with tenant_context(alice_tenant):
        location = location_create()
        device, _ = device_create(location)
        Device.objects.filter(pk=device.pk).update(queue_depth=2)
    assert "2 unsent<" in manager_client.get("/tablets/").content.decode()

    def refuse(**_: object) -> None:
        raise ServiceError("unavailable", "Could not make a pairing code; try again.")

    monkeypatch.setattr("signup.services.pairing_code_create", refuse)
    response = manager_client.post(
        "/tablets/pair/", {"location": location.pk, "device_name": "Till 9"}
    )
    assert b"Could not make a pairing code; try again." in response.content


def test_held_sign_ups_show_their_reasons_and_when_reported(
    alice_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        location = location_create()
        device, _ = device_create(location, name="Till held")
        mixed, _ = device_create(location, name="Till mixed")
    now = timezone.now()
    with tenant_context(alice_tenant):
        services.device_heartbeat(
            device=device,
            app_version="kiosk-2",
            queue_depth=3,
            oldest_unsent_at=now - timedelta(hours=2, minutes=1),
            held=1,
            held_reasons={"invalid_email": 1},
        )
        services.device_heartbeat(
            device=mixed,
            app_version="kiosk-2",
            queue_depth=0,
            oldest_unsent_at=None,
            held=4,
            held_reasons={"location_closed": 1, "http_418": 3},
        )
        Device.objects.filter(pk=device.pk).update(queue_reported_at=now - timedelta(minutes=2))
        sam = staff_create()
    login(alice_client, alice_tenant, sam)
    page = alice_client.get("/tablets/").content.decode()
    assert "3 unsent, oldest 2 h · 1 held: invalid email" in page
    assert "reported 2 min ago" in page
    # Biggest first; a code the portal has no words for is shown as it is.
    assert "4 held: 3 http_418, 1 store closed" in page
    words = re.sub(r"<[^>]*>", " ", page)  # what a reader sees: "tablet", never "device"
    assert "device" not in words.lower()


def test_a_revoked_tablet_that_still_holds_sign_ups_says_so(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        location = location_create()
        device, _ = device_create(location, name="Till gone")
        quiet, _ = device_create(location, name="Till empty")
        services.device_revoke(actor=None, device=device)
        services.device_revoke(actor=None, device=quiet)
        # A revoked tablet's beat is still recorded: that is how the portal knows.
        services.device_heartbeat(
            device=Device.objects.get(pk=device.pk),
            app_version="kiosk-2",
            queue_depth=1,
            oldest_unsent_at=timezone.now(),
            held=1,
            held_reasons={"id_conflict": 1},
        )
    page = manager_client.get("/tablets/").content.decode()
    assert "2 sign-ups wait on this tablet: pair it again to recover them" in page
    assert "2 sign-ups wait on Till gone" in page
    assert f'href="/tablets/pair/?location={location.pk}">pair it again</a>' in page
    assert "Till empty" in page
    assert "1 sign-up wait" not in page  # the empty revoked tablet raises no alarm
    confirm = manager_client.get(f"/tablets/{device.pk}/revoke/").content.decode()
    assert "was revoked on" in confirm


def test_pairing_chooses_the_only_store(manager_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        location = location_create()
    page = manager_client.get("/tablets/pair/").content.decode()
    assert f'<option value="{location.pk}" selected>' in page
    with tenant_context(alice_tenant):
        other = location_create(code="lyon", name="Lyon")
    page = manager_client.get("/tablets/pair/").content.decode()
    assert "selected>" not in page.split('name="location"')[1].split("</select>")[0].replace(
        '<option value="" selected>', ""
    )
    assert f'<option value="{other.pk}">' in page


def test_revoking_a_tablet_with_waiting_sign_ups_warns_they_stay_on_it(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        location = location_create()
        device, _ = device_create(location)
        Device.objects.filter(pk=device.pk).update(queue_depth=2, held_count=1)
    page = manager_client.get(f"/tablets/{device.pk}/revoke/").content.decode()
    assert "3 sign-ups waiting to be sent" in page
    assert "arrive only once it is paired again" in page
