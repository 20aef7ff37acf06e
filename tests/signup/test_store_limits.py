"""Staff limited to their stores: who chooses a store's staff (owners and managers, on the
store's page; never staff, never another shop), what "limited" means (no store chosen: every
store), and the alerts and digest each staff member gets (their stores only).

Every portal route walked as a limited staff member: test_portal_access.py.
"""

import re
from datetime import date
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django_tenants.utils import tenant_context

from crm_sync import services as crm_services
from crm_sync.models import Destination, DestinationState
from customerinfo.core.accounts.models import Role, User
from customerinfo.core.models import AuditAction, AuditEntry
from signup import services, tasks
from signup.models import Device, Location, NotificationPreference, StoreAssignment
from signup.selectors.access import EVERY_STORE, StoreScope, store_scope
from signup.services import digests
from tenants.models import Tenant
from tests.conftest import login
from tests.crm_sync.factories import webhook_destination
from tests.signup.factories import (
    device_create,
    form_create,
    location_create,
    staff_create,
    submission_create,
)
from tests.signup.test_notifications import MONDAY, _days, _silent

pytestmark = pytest.mark.django_db


def _edit(location: Location, **changes: Any) -> dict[str, Any]:
    """The store page's form as it would be posted, with ``changes``."""
    return {
        "name": location.name,
        "country": location.country,
        "time_zone": location.time_zone,
        "form": "",
        "language": "",
        "is_active": "on",
        **changes,
    }


def _assigned(tenant: Tenant) -> list[tuple[str, str]]:
    with tenant_context(tenant):
        return sorted(
            StoreAssignment.objects.values_list("user__email", "location__code").order_by()
        )


# --- choosing a store's staff --------------------------------------------------------------------


def test_a_manager_chooses_who_works_at_a_store(
    manager_client: Client, alice_tenant: Tenant, bob: User
) -> None:
    with tenant_context(alice_tenant):
        paris = location_create()
        sam = staff_create()
        staff_create("una@alice.example")
    page = manager_client.get(f"/stores/{paris.pk}/").content.decode()
    assert "Staff who work here" in page
    assert "sees only those stores" in page  # the hint says what ticking means
    assert "Sam (sam@alice.example)" in page
    assert "alice@alice.example" not in page  # owners see every store: not offered
    response = manager_client.post(f"/stores/{paris.pk}/", _edit(paris, staff=[sam.pk]))
    assert response.status_code == 302
    assert _assigned(alice_tenant) == [("sam@alice.example", "paris")]
    page = manager_client.get(f"/stores/{paris.pk}/").content.decode()
    assert re.search(rf'name="staff" value="{sam.pk}"[^>]*checked', page)
    with tenant_context(alice_tenant):
        entry = AuditEntry.objects.filter(action=AuditAction.LOCATION_UPDATE).latest("pk")
    assert (entry.actor_id, entry.old, entry.new) == (
        bob.pk,
        {"staff": []},
        {"staff": ["sam@alice.example"]},
    )
    manager_client.post(f"/stores/{paris.pk}/", _edit(paris))
    assert _assigned(alice_tenant) == []


def test_only_staff_can_be_limited(owner_client: Client, alice_tenant: Tenant, bob: User) -> None:
    with tenant_context(alice_tenant):
        paris = location_create()
    response = owner_client.post(f"/stores/{paris.pk}/", _edit(paris, staff=[bob.pk]))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert _assigned(alice_tenant) == []


def test_staff_cannot_choose_stores(alice_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        paris = location_create()
        sam = staff_create()
    login(alice_client, alice_tenant, sam)
    response = alice_client.post(f"/stores/{paris.pk}/", _edit(paris, staff=[sam.pk]))
    assert response.status_code == 403
    assert _assigned(alice_tenant) == []


def test_charlie_cannot_choose_alices_staff(
    charlie_client: Client, charlie_tenant: Tenant, charlie: User, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        paris = location_create(code="alice-paris", name="Alice secret store")
        sam = staff_create()
    login(charlie_client, charlie_tenant, charlie)
    response = charlie_client.post(f"/stores/{paris.pk}/", _edit(paris, staff=[sam.pk]))
    assert response.status_code == 404
    assert "Alice secret" not in response.content.decode()
    assert _assigned(alice_tenant) == []


# --- what a limit means ------------------------------------------------------------------------


def test_staff_with_no_store_see_every_store_and_managers_always_do(
    alice_tenant: Tenant, bob: User
) -> None:
    with tenant_context(alice_tenant):
        paris, lyon = location_create(), location_create(code="lyon", name="Lyon")
        sam = staff_create()
        assert store_scope(sam) == EVERY_STORE
        services.location_staff_set(actor=None, location=lyon, staff=[sam])
        assert store_scope(sam) == StoreScope(frozenset({lyon.pk}))
        assert list(store_scope(sam).stores()) == [lyon]
        assert not store_scope(sam).allows(paris.pk)
        assert not store_scope(sam).allows(None)  # a rejected sign-up whose store is gone
        # Promoted: every store, whatever was chosen while on the staff.
        User.objects.filter(pk=sam.pk).update(role=Role.MANAGER)
        sam.refresh_from_db()
        assert store_scope(sam) == EVERY_STORE
        assert store_scope(bob) == EVERY_STORE


def test_the_sign_up_list_offers_and_lists_their_stores_only(
    alice_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        form_create()
        paris, lyon = location_create(), location_create(code="lyon", name="Lyon")
        submission_create(device_create(paris)[0], "paris-shopper@example.com")
        submission_create(device_create(lyon)[0], "lyon-shopper@example.com")
        sam = staff_create()
        services.location_staff_set(actor=None, location=paris, staff=[sam])
    login(alice_client, alice_tenant, sam)
    # Lyon's id typed into the address is not a choice: ignored, never a wider list.
    page = alice_client.get(f"/signups/?location={lyon.pk}").content.decode()
    assert "paris-shopper@example.com" in page
    assert "lyon-shopper@example.com" not in page
    assert ">Lyon</option>" not in page
    assert ">Paris Rivoli</option>" in page
    assert "1 sign-up" in page


# --- alerts and the digest ----------------------------------------------------------------------


def test_a_limited_staff_member_is_alerted_of_their_stores_tablets_only(
    alice_tenant: Tenant, alice: User
) -> None:
    with tenant_context(alice_tenant):
        NotificationPreference.objects.create(user=alice, tablet_offline=False)
        paris, lyon = location_create(), location_create(code="lyon", name="Lyon")
        for location in (paris, lyon):
            device, _ = device_create(location, name=f"{location.name} till")
            _silent(device)
        sam, una = staff_create(), staff_create("una@alice.example")
        for member in (sam, una):
            NotificationPreference.objects.create(user=member, tablet_offline=True)
        services.location_staff_set(actor=None, location=paris, staff=[sam])
    assert tasks.alerts_check_task(schema_name=alice_tenant.schema_name) == 2
    subjects: dict[str, list[str]] = {}
    for message in mail.outbox:
        for address in message.to:
            subjects.setdefault(address, []).append(str(message.subject))
    assert sorted(subjects) == ["sam@alice.example", "una@alice.example"]
    [about] = subjects["sam@alice.example"]
    assert "Paris Rivoli till" in about
    assert len(subjects["una@alice.example"]) == 2  # no store chosen: every store


def test_a_limited_staff_member_is_not_offered_nor_sent_crm_alerts(
    alice_tenant: Tenant,
) -> None:
    with tenant_context(alice_tenant):
        sam = staff_create()
        # Saved before the page hid it (or by hand): still not sent, a CRM is every store's.
        NotificationPreference.objects.create(user=sam, destination_paused=True)
        Destination.objects.create(name="HubSpot EU", kind="hubspot", state=DestinationState.PAUSED)
    assert tasks.alerts_check_task(schema_name=alice_tenant.schema_name) == 1
    assert all("sam@alice.example" not in message.to for message in mail.outbox)


def test_a_limited_staff_members_digest_holds_their_stores_only(
    alice_tenant: Tenant, alice: User
) -> None:
    with tenant_context(alice_tenant):
        paris, lyon = location_create(), location_create(code="lyon", name="Lyon")
        _days(paris.pk, date(2025, 11, 10), [(600, 450, 150)])
        _days(lyon.pk, date(2025, 11, 10), [(40, 10, 0)])
        for location in (paris, lyon):
            device, _ = device_create(location, name=f"{location.name} till")
            Device.objects.filter(pk=device.pk).update(queue_depth=2)
        sam = staff_create()
        NotificationPreference.objects.create(user=sam, weekly_digest=True)
        services.location_staff_set(actor=None, location=lyon, staff=[sam])
        assert digests.digests_send(now=MONDAY) == 2
    mails = {message.to[0]: message for message in mail.outbox}
    sams, alices = mails["sam@alice.example"].body, mails["alice@alice.example"].body
    assert "- Lyon: 40 / 0" in sams
    assert "- Your stores: 40 / 0" in sams
    assert "Lyon till (Lyon)" in sams
    assert "Paris" not in sams
    assert "CRM" not in sams  # deliveries are every store's
    sent = mails["sam@alice.example"]
    assert isinstance(sent, EmailMultiAlternatives)
    [(html, _)] = sent.alternatives
    assert isinstance(html, str)
    assert "Paris" not in html
    assert "CRM" not in html
    assert "- Paris Rivoli: 600 / 0" in alices  # the owner's digest is the whole shop's
    assert "- All stores: 640 / 0" in alices
    assert "CRM DELIVERIES" in alices


def test_an_owner_can_turn_off_the_paused_crm_mail(
    owner_client: Client, alice_tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    def pause(name: str) -> None:
        with tenant_context(alice_tenant):
            destination = webhook_destination(url="https://crm.example/hook", name=name)
            with django_capture_on_commit_callbacks(execute=True):
                crm_services.destination_pause(destination=destination, reason="401")

    pause("First CRM")
    assert [message.to for message in mail.outbox] == [["alice@alice.example"]]
    response = owner_client.post("/settings/notifications/", {"tablet_offline": "on"})
    assert response.status_code == 302
    mail.outbox.clear()
    pause("Second CRM")
    assert mail.outbox == []


def test_a_staff_member_leaving_a_store_stops_its_alerts(alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        paris, lyon = location_create(), location_create(code="lyon", name="Lyon")
        sam = staff_create()
        services.location_staff_set(actor=None, location=paris, staff=[sam])
        services.location_staff_set(actor=None, location=lyon, staff=[sam])
        services.location_staff_set(actor=None, location=paris, staff=[])
        assert store_scope(sam) == StoreScope(frozenset({lyon.pk}))
        # Saving the same staff again records nothing new.
        count = AuditEntry.objects.count()
        services.location_staff_set(actor=None, location=lyon, staff=[sam])
        assert AuditEntry.objects.count() == count
