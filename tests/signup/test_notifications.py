"""Retailer alerts and the weekly digest: one mail per episode to the members who chose it and
to nobody of another shop, the sweep that visits only shops where something changed, the
digest's figures, and the Notifications page (charlie sees nothing of alice's)."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm_sync.models import Destination, DestinationState
from customerinfo.core.accounts.models import User
from signup import tasks
from signup.models import AlertEpisode, Device, NotificationPreference, SignupDay
from signup.selectors import notifications as selectors
from signup.selectors.access import EVERY_STORE
from signup.services import digests
from tenants.models import Tenant
from tests.conftest import host_of, login
from tests.signup.factories import device_create, location_create, staff_create

pytestmark = pytest.mark.django_db


def _silent(device: Device, *, unsent: int = 3) -> None:
    """The tablet last checked in an hour ago, holding sign-ups for two hours."""
    now = timezone.now()
    Device.objects.filter(pk=device.pk).update(
        queue_depth=unsent,
        oldest_unsent_at=now - timedelta(hours=2),
        last_seen_at=now - timedelta(hours=1),
        queue_reported_at=now - timedelta(hours=1),
    )


def _back(device: Device) -> None:
    Device.objects.filter(pk=device.pk).update(
        queue_depth=0, oldest_unsent_at=None, last_seen_at=timezone.now()
    )


def _till(tenant: Tenant) -> Device:
    with tenant_context(tenant):
        device, _ = device_create(location_create())
        _silent(device)
    return device


def _check(tenant: Tenant) -> int:
    return int(tasks.alerts_check_task(schema_name=tenant.schema_name))


def _to(address: str) -> list[Any]:
    return [message for message in mail.outbox if address in message.to]


def test_an_offline_tablet_is_mailed_once_per_episode(alice_tenant: Tenant, bob: User) -> None:
    device = _till(alice_tenant)
    assert _check(alice_tenant) == 1
    [alert] = mail.outbox
    assert alert.to == ["alice@alice.example"]  # the owner by default; bob, a manager, did not ask
    assert "Till 1 (Paris Rivoli) is offline" in alert.subject
    assert "3 sign-ups unsent, the oldest for 2 h" in alert.body
    assert f"https://{host_of(alice_tenant)}/tablets/" in alert.body
    assert f"https://{host_of(alice_tenant)}/settings/notifications/" in alert.body

    # Still offline ten and twenty minutes later: the same episode, no second mail.
    assert _check(alice_tenant) == 0
    assert _check(alice_tenant) == 0
    assert len(mail.outbox) == 1

    with tenant_context(alice_tenant):
        _back(device)
    assert _check(alice_tenant) == 1
    assert "back to normal" in mail.outbox[-1].subject
    with tenant_context(alice_tenant):
        _silent(device)
    assert _check(alice_tenant) == 1  # a new episode after the recovery
    assert len(mail.outbox) == 3
    with tenant_context(alice_tenant):
        episodes = list(AlertEpisode.objects.order_by("opened_at", "pk"))
    assert [episode.closed_at is None for episode in episodes] == [False, True]
    assert episodes[0].recipients == 1


def test_only_members_who_chose_an_alert_get_it(
    alice_tenant: Tenant, alice: User, bob: User
) -> None:
    with tenant_context(alice_tenant):
        NotificationPreference.objects.create(user=alice, tablet_offline=False)
        NotificationPreference.objects.create(user=bob, tablet_offline=True)
        staff_create()  # staff are never mailed: their view is not limited to their stores
    _till(alice_tenant)
    assert _check(alice_tenant) == 1
    assert [message.to for message in mail.outbox] == [["bob@alice.example"]]


def test_a_paused_crm_alerts_managers_who_chose_it(alice_tenant: Tenant, bob: User) -> None:
    with tenant_context(alice_tenant):
        NotificationPreference.objects.create(user=bob, destination_paused=True)
        hubspot = Destination.objects.create(
            name="HubSpot EU", kind="hubspot", state=DestinationState.PAUSED
        )
    assert _check(alice_tenant) == 1
    # alice, the owner, was mailed by crm_sync itself when it paused: not twice.
    [alert] = mail.outbox
    assert alert.to == ["bob@alice.example"]
    assert "HubSpot EU are on hold" in alert.subject
    assert f"https://{host_of(alice_tenant)}/crm/" in alert.body
    assert _check(alice_tenant) == 0
    with tenant_context(alice_tenant):
        Destination.objects.filter(pk=hubspot.pk).update(state=DestinationState.ACTIVE)
    assert _check(alice_tenant) == 1
    assert "sending again" in mail.outbox[-1].subject


def test_no_alert_reaches_another_shop(alice_tenant: Tenant, charlie_tenant: Tenant) -> None:
    _till(charlie_tenant)
    assert _check(alice_tenant) == 0
    assert mail.outbox == []
    assert _check(charlie_tenant) == 1
    assert [message.to for message in mail.outbox] == [["charlie@charlie.example"]]
    assert host_of(charlie_tenant) in mail.outbox[0].body
    assert host_of(alice_tenant) not in mail.outbox[0].body


def test_the_sweep_visits_only_shops_where_an_alert_opens_or_closes(
    alice_tenant: Tenant, charlie_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    schemas = [alice_tenant.schema_name, charlie_tenant.schema_name]
    now = timezone.now()
    assert selectors.schemas_with_alert_changes(schemas=schemas, now=now) == []
    device = _till(charlie_tenant)
    assert selectors.schemas_with_alert_changes(schemas=schemas, now=now) == [
        charlie_tenant.schema_name
    ]
    queued: list[dict[str, str]] = []
    monkeypatch.setattr(tasks.alerts_check_task, "delay", lambda **kw: queued.append(kw))
    assert tasks.alerts_check_all() == [charlie_tenant.schema_name]
    assert queued == [{"schema_name": charlie_tenant.schema_name}]
    _check(charlie_tenant)
    # Its episode is open and still true: nothing to visit.
    assert selectors.schemas_with_alert_changes(schemas=schemas, now=now) == []
    with tenant_context(charlie_tenant):
        _back(device)
    assert selectors.schemas_with_alert_changes(schemas=schemas, now=timezone.now()) == [
        charlie_tenant.schema_name
    ]


# --- the weekly digest -------------------------------------------------------------------------

#: A Monday morning in Paris; last week is Monday 10 to Sunday 16 November 2025.
MONDAY = datetime(2025, 11, 17, 7, 30, tzinfo=UTC)


def _days(location_id: int, first: date, counts: list[tuple[int, int, int]]) -> None:
    for offset, (signups, email, sms) in enumerate(counts):
        SignupDay.objects.update_or_create(
            location_id=location_id,
            day=first + timedelta(days=offset),
            defaults={"signups": signups, "email_opt_ins": email, "sms_opt_ins": sms},
        )


@pytest.fixture
def week(alice_tenant: Tenant) -> None:
    """Paris: 1,200 sign-ups last week (900 email, 300 SMS opt-ins), 1,000 the week before;
    Lyon: none last week, 20 before; a silent tablet in Lyon."""
    with tenant_context(alice_tenant):
        paris = location_create()
        lyon = location_create(code="lyon", name="Lyon")
        _days(paris.pk, date(2025, 11, 10), [(600, 450, 150), (600, 450, 150)])
        _days(paris.pk, date(2025, 11, 16), [(0, 0, 0)])
        _days(paris.pk, date(2025, 11, 3), [(1000, 10, 0)])
        _days(paris.pk, date(2025, 11, 17), [(7, 7, 7)])  # this week: not counted
        _days(lyon.pk, date(2025, 11, 9), [(20, 5, 0)])
        device, _ = device_create(lyon, "Back till")
        Device.objects.filter(pk=device.pk).update(queue_depth=2)


def test_digest_figures(alice_tenant: Tenant, week: None) -> None:
    with tenant_context(alice_tenant):
        digest = digests.digest_figures(now=MONDAY, scope=EVERY_STORE)
    assert (digest.period.first, digest.period.last) == (date(2025, 11, 10), date(2025, 11, 16))
    lyon, paris = digest.stores  # by name
    assert (paris.name, paris.signups, paris.previous, paris.change) == (
        "Paris Rivoli",
        1200,
        1000,
        200,
    )
    assert (paris.email_rate, paris.sms_rate) == (75.0, 25.0)
    assert (lyon.name, lyon.signups, lyon.previous, lyon.email_rate) == ("Lyon", 0, 20, None)
    assert (digest.total.signups, digest.total.previous) == (1200, 1020)
    assert digest.tablets == ["Back till (Lyon): offline, 2 unsent"]
    assert (digest.deliveries_failed, digest.deliveries_held) == (0, 0)


def test_digest_is_mailed_once_per_week_as_text_and_html(
    alice_tenant: Tenant, charlie_tenant: Tenant, bob: User, week: None
) -> None:
    with tenant_context(alice_tenant):
        assert digests.digests_send(now=MONDAY) == 1
        assert digests.digests_send(now=MONDAY + timedelta(hours=1)) == 0
    with tenant_context(charlie_tenant):
        digests.digests_send(now=MONDAY)
    [digest, charlies] = mail.outbox
    assert digest.to == ["alice@alice.example"]
    assert charlies.to == ["charlie@charlie.example"]
    assert "Paris Rivoli" not in charlies.body
    assert digest.subject == "Alice's Shop: your week of 10 November to 16 November"
    assert "- Paris Rivoli: 1,200 / 1,000 / 75 % / 25 %" in digest.body
    assert "- Lyon: 0 / 20 / \u2013 / \u2013" in digest.body  # en dashes: no rate
    assert "Back till (Lyon): offline, 2 unsent" in digest.body
    assert f"https://{host_of(alice_tenant)}/tablets/" in digest.body
    assert isinstance(digest, EmailMultiAlternatives)
    [(html, kind)] = digest.alternatives
    assert kind == "text/html"
    assert isinstance(html, str)
    assert '<th scope="row">Paris Rivoli</th><td>1,200</td><td>1,000</td>' in html
    assert '<html lang="en">' in html


# --- the page ------------------------------------------------------------------------------------


def test_owner_sees_her_defaults_and_saves_her_choices(
    owner_client: Client, alice_tenant: Tenant, alice: User
) -> None:
    page = owner_client.get("/settings/notifications/").content.decode()
    assert 'name="tablet_offline" id="tablet_offline" checked' in page
    assert 'name="weekly_digest" id="weekly_digest" checked' in page
    # On by default; crm_sync mails the owners who keep it the moment a CRM is paused.
    assert 'name="destination_paused" id="destination_paused" checked' in page
    with tenant_context(alice_tenant):
        paris = location_create()
    response = owner_client.post(
        "/settings/notifications/",
        {"weekly_digest": "on", "export_schedule": "weekly", "location": paris.pk},
    )
    assert response.status_code == 302
    with tenant_context(alice_tenant):
        saved = NotificationPreference.objects.get(user=alice)
    assert (saved.tablet_offline, saved.weekly_digest, saved.export_schedule) == (
        False,
        True,
        "weekly",
    )
    assert saved.export_filters == {"location": str(paris.pk)}
    assert saved.portal_origin == f"http://{host_of(alice_tenant)}"


def test_the_sign_up_lists_filters_are_offered(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        lyon = location_create(code="lyon", name="Lyon")
    page = manager_client.get(f"/settings/notifications/?location={lyon.pk}&consent=sms")
    html = page.content.decode()
    assert f'<option value="{lyon.pk}" selected>Lyon</option>' in html
    assert '<option value="sms" selected>' in html
    assert 'name="destination_paused"' in html  # a manager chooses it


def test_bad_input_is_a_readable_error(owner_client: Client) -> None:
    response = owner_client.post("/settings/notifications/", {"export_schedule": "hourly"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_staff_choose_their_tablets_and_digest_only(
    alice_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        sam = staff_create()
    login(alice_client, alice_tenant, sam)
    page = alice_client.get("/settings/notifications/").content.decode()
    assert 'name="tablet_offline" id="tablet_offline">' in page  # staff start with nothing
    assert 'name="weekly_digest"' in page
    assert 'name="destination_paused"' not in page  # a CRM is every store's
    assert 'name="export_schedule"' not in page  # staff do not export
    response = alice_client.post(
        "/settings/notifications/",
        {"weekly_digest": "on", "destination_paused": "on", "export_schedule": "daily"},
    )
    assert response.status_code == 302
    with tenant_context(alice_tenant):
        saved = NotificationPreference.objects.get(user=sam)
    assert (saved.weekly_digest, saved.destination_paused, saved.export_schedule) == (
        True,
        False,
        "",
    )


def test_charlie_sees_nothing_of_alices(
    alice_tenant: Tenant, alice: User, charlie_client: Client, charlie_tenant: Tenant, charlie: User
) -> None:
    with tenant_context(alice_tenant):
        location_create(code="alice-secret", name="Alice Secret Store")
        NotificationPreference.objects.create(
            user=alice, export_schedule="daily", export_filters={"email": "vip@alice.example"}
        )
    login(charlie_client, charlie_tenant, charlie)
    page = charlie_client.get("/settings/notifications/").content.decode()
    assert "Alice Secret Store" not in page
    assert "vip@alice.example" not in page
    assert 'name="tablet_offline" id="tablet_offline" checked' in page  # his own defaults
    # alice's session is no key to charlie's host, nor charlie's to alice's.
    anonymous = Client(HTTP_HOST=host_of(alice_tenant))
    login(anonymous, charlie_tenant, charlie)
    assert anonymous.get("/settings/notifications/").status_code == 302
    with tenant_context(charlie_tenant):
        assert not NotificationPreference.objects.exists()
