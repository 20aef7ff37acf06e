"""Deliveries in the portal: a sign-up's delivery log, a destination's deliveries by status, and
sending dead ones again, one or a range read in the stores' time zone.

Real HTTP to a webhook receiver on loopback, never a mock. Every test builds its data through the
services and then talks to the portal as alice (owner), bob (manager) or a staff member; the
shared fixtures (receiver, destination, owner, manager) are in conftest.py.
"""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from crm_sync.models import Destination
from customerinfo.core.models import AuditEntry
from outbox.models import Delivery, DeliveryStatus
from tenants.models import Tenant
from tests.signup.factories import Kiosk

from .conftest import NAME, Shop
from .factories import deliveries_of, send, sign_up
from .fakes.server import Reply
from .fakes.webhook import FakeWebhookReceiver

pytestmark = pytest.mark.django_db


# --- a sign-up's delivery log ------------------------------------------------------------------


def test_the_delivery_log_shows_each_attempt_and_its_status_code(
    owner: Client,
    alice_tenant: Tenant,
    kiosk: Kiosk,
    destination: Destination,
    receiver: FakeWebhookReceiver,
) -> None:
    with tenant_context(alice_tenant):
        submission = sign_up(kiosk, email="ann@example.com")
        (delivery,) = deliveries_of(submission)
        receiver.force(Reply(503, {"error": "busy, try later"}))
        send(delivery)
    page = owner.get(f"/crm/signups/{submission}/").content.decode()
    assert "Delivery log of ann@example.com" in page
    assert NAME in page
    assert "<td>503</td>" in page
    assert "busy, try later" in page
    assert "Will retry" in page
    assert "Next attempt" in page  # still pending: when the next try is due
    with tenant_context(alice_tenant):
        send(delivery)  # the receiver accepts this one
    page = owner.get(f"/crm/signups/{submission}/").content.decode()
    assert "<td>1</td>" in page  # attempt 1 ...
    assert "<td>2</td>" in page  # ... and attempt 2
    assert "<td>204</td>" in page
    assert "Delivered" in page
    assert "Next attempt" not in page
    assert "Send again" not in page  # a delivered sign-up has nothing to replay


def test_the_sign_ups_list_links_to_each_delivery_log(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    with tenant_context(alice_tenant):
        submission = sign_up(kiosk, email="bea@example.com")
    page = owner.get("/signups/").content.decode()
    assert f'href="/crm/signups/{submission}/"' in page
    # Without any destination the log says why nothing was sent.
    page = owner.get(f"/crm/signups/{submission}/").content.decode()
    assert "was not sent to any CRM" in page


def test_a_dead_delivery_is_sent_again_from_its_log(
    owner: Client,
    alice_tenant: Tenant,
    kiosk: Kiosk,
    destination: Destination,
    receiver: FakeWebhookReceiver,
) -> None:
    with tenant_context(alice_tenant):
        submission = sign_up(kiosk)
        (delivery,) = deliveries_of(submission)
        receiver.force(Reply(422, {"error": "email not allowed"}))
        send(delivery)
    page = owner.get(f"/crm/signups/{submission}/").content.decode()
    assert "<td>422</td>" in page
    assert "Refused for good" in page
    assert f'action="/crm/deliveries/{delivery.pk}/replay/"' in page
    response = owner.post(f"/crm/deliveries/{delivery.pk}/replay/", {"back": "submission"})
    assert response["Location"] == f"/crm/signups/{submission}/"
    page = owner.get(response["Location"]).content.decode()
    assert f"The sign-up will be sent to “{NAME}” again." in page
    with tenant_context(alice_tenant):
        again = Delivery.objects.get(pk=delivery.pk)
        assert (again.status, again.attempts) == (DeliveryStatus.PENDING, 0)
    # A pending delivery is not replayed twice; back to the destination by default.
    response = owner.post(f"/crm/deliveries/{delivery.pk}/replay/", follow=True)
    assert response.redirect_chain[-1][0] == f"/crm/{destination.pk}/"
    assert "neither dead nor held: nothing to replay" in response.content.decode()


def test_an_unknown_sign_up_or_delivery_is_not_found(
    owner: Client, destination: Destination
) -> None:
    assert owner.get("/crm/signups/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert owner.get("/crm/signups/not-a-uuid/").status_code == 404
    assert owner.post("/crm/deliveries/999999999/replay/").status_code == 404
    assert owner.get("/crm/999999999/").status_code == 404


# --- the destination's deliveries and replay ---------------------------------------------------


def _dead_at(tenant: Tenant, kiosk: Kiosk, *moments: datetime) -> list[int]:
    """Dead deliveries of sign-ups received at ``moments`` (UTC)."""
    ids = []
    with tenant_context(tenant):
        for moment in moments:
            (delivery,) = deliveries_of(sign_up(kiosk))
            Delivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.DEAD,
                created_at=moment,
                attempts=11,
                last_status_code=500,
                last_error="Gave up after 11 attempts.",
            )
            ids.append(delivery.pk)
    return ids


def test_the_destination_page_lists_its_deliveries_by_status(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    (dead,) = _dead_at(alice_tenant, kiosk, datetime(2025, 3, 1, 8, 30, tzinfo=UTC))
    with tenant_context(alice_tenant):
        deliveries_of(sign_up(kiosk, email="pending@example.com"))
    page = owner.get(f"/crm/{destination.pk}/").content.decode()
    assert "Received (Europe/Paris)" in page
    assert "2025-03-01 09:30" in page  # 08:30 UTC shown in the stores' zone
    assert "pending@example.com" in page
    assert "Gave up after 11 attempts." in page
    assert "<td>500</td>" in page
    page = owner.get(f"/crm/{destination.pk}/", {"status": "dead"}).content.decode()
    assert "pending@example.com" not in page
    assert f'action="/crm/deliveries/{dead}/replay/"' in page
    page = owner.get(f"/crm/{destination.pk}/", {"status": "nonsense"}).content.decode()
    assert "pending@example.com" in page  # an unknown filter shows everything


def test_replaying_a_range_reads_it_in_the_stores_time_zone(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    early, late = _dead_at(
        alice_tenant,
        kiosk,
        datetime(2025, 3, 1, 8, 30, tzinfo=UTC),  # 09:30 in Paris
        datetime(2025, 3, 1, 10, 30, tzinfo=UTC),  # 11:30 in Paris
    )
    page = owner.get(f"/crm/{destination.pk}/").content.decode()
    assert "Times are in <strong>Europe/Paris (the time zone of your stores)</strong>" in page
    response = owner.post(
        f"/crm/{destination.pk}/replay/",
        {"since": "2025-03-01T09:00", "until": "2025-03-01T10:00"},
        follow=True,
    )
    page = response.content.decode()
    assert "1 dead or held delivery from 2025-03-01 09:00 to 2025-03-01 10:00 will be sent" in page
    with tenant_context(alice_tenant):
        statuses = dict(Delivery.objects.filter(pk__in=[early, late]).values_list("pk", "status"))
        assert statuses == {early: DeliveryStatus.PENDING, late: DeliveryStatus.DEAD}
        entry = AuditEntry.objects.get(action="delivery.replay")
        # The same instant as 08:00 UTC: 09:00 was read in Paris, not in UTC.
        since = datetime.fromisoformat((entry.new or {})["since"])
        assert since == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def test_a_second_replay_right_away_shows_the_throttle_message(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    (dead,) = _dead_at(alice_tenant, kiosk, datetime(2025, 3, 1, 8, 30, tzinfo=UTC))
    page = owner.post(f"/crm/{destination.pk}/replay/", {}, follow=True).content.decode()
    assert "1 dead or held delivery will be sent again" in page
    with tenant_context(alice_tenant):
        Delivery.objects.filter(pk=dead).update(status=DeliveryStatus.DEAD)
    response = owner.post(
        f"/crm/{destination.pk}/replay/", {"since": "2025-03-01T00:00", "until": ""}
    )
    assert response.status_code == 429
    page = response.content.decode()
    assert "A replay of this destination started less than 30 s ago; wait a moment." in page
    assert 'value="2025-03-01T00:00"' in page  # what was typed is kept for the retry
    with tenant_context(alice_tenant):
        assert Delivery.objects.get(pk=dead).status == DeliveryStatus.DEAD


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"since": "2025-03-02T00:00", "until": "2025-03-01T00:00"}, "must be later than"),
        ({"since": "yesterday"}, "Enter a valid date/time."),
        # 02:30 does not exist in Paris on the night clocks go forward.
        ({"since": "2025-03-30T02:30"}, "be interpreted in time zone Europe/Paris"),
    ],
)
def test_a_bad_replay_range_is_explained_and_replays_nothing(
    owner: Client, shop: Shop, data: dict[str, str], error: str
) -> None:
    (dead,) = _dead_at(shop.tenant, shop.kiosk, datetime(2025, 3, 1, 8, 30, tzinfo=UTC))
    response = owner.post(f"/crm/{shop.destination.pk}/replay/", data)
    assert response.status_code == 400
    assert error in response.content.decode()
    with tenant_context(shop.tenant):
        assert Delivery.objects.get(pk=dead).status == DeliveryStatus.DEAD


def test_stores_in_several_zones_make_the_range_utc(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    with tenant_context(alice_tenant):
        from signup.services import location_create

        location_create(
            actor=None, name="NYC", code="nyc", country="US", time_zone="America/New_York"
        )
    page = owner.get(f"/crm/{destination.pk}/").content.decode()
    assert "UTC (your stores are in different time zones)" in page
    # A destination limited to the Paris store reads times in Paris again.
    with tenant_context(alice_tenant):
        Destination.objects.get(pk=destination.pk).locations.set([kiosk.location])
    page = owner.get(f"/crm/{destination.pk}/").content.decode()
    assert "Europe/Paris (the time zone of your stores)" in page
