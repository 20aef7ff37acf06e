"""Nothing a tablet holds is lost: a closed store still takes what was captured before it closed,
tablets report their queues and what they hold back, and a revoked tablet's queue moves to the
tablet paired in its place.
"""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from signup import services
from signup.models import Device, RejectedSubmission
from tenants.models import Tenant
from tests.signup.factories import (
    Kiosk,
    location_close,
    submission_body,
    submission_post,
)

pytestmark = pytest.mark.django_db


# --- closed stores -----------------------------------------------------------------------------


def test_a_closed_store_takes_what_was_captured_before_it_closed(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    before = submission_body(kiosk, captured_at=(timezone.now() - timedelta(minutes=5)).isoformat())
    submission_post(
        alice_client, kiosk, submission_body(kiosk)
    )  # the process now remembers the tablet
    with tenant_context(alice_tenant):
        location_close(kiosk.location)
    assert submission_post(alice_client, kiosk, before).status_code == 201
    after = submission_body(kiosk, captured_at=(timezone.now() + timedelta(seconds=1)).isoformat())
    refused = submission_post(alice_client, kiosk, after)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "location_closed")
    with tenant_context(alice_tenant):
        assert RejectedSubmission.objects.get(pk=after["id"]).code == "location_closed"
    form = alice_client.get("/api/kiosk/form", headers=kiosk.headers).json()
    assert form["location"]["accepting"] is False
    beat = alice_client.post(
        "/api/kiosk/heartbeat", {}, content_type="application/json", headers=kiosk.headers
    )
    assert beat.json()["accepting"] is False


# --- queues reported ---------------------------------------------------------------------------


def test_heartbeat_reports_held_sign_ups_and_their_reasons(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    response = alice_client.post(
        "/api/kiosk/heartbeat",
        {"queue_depth": 3, "held": 2, "held_reasons": {"invalid_email": 2}},
        content_type="application/json",
        headers=kiosk.headers,
    )
    assert response.status_code == 200
    with tenant_context(alice_tenant):
        device = Device.objects.get(pk=kiosk.device.pk)
    assert (device.queue_depth, device.held_count) == (3, 2)
    assert device.held_reasons == {"invalid_email": 2}
    assert device.queue_reported_at is not None


@pytest.mark.parametrize(
    "report",
    [
        {"queue_depth": 2**31},
        {"held": -1},
        {"held_reasons": {f"code_{n}": 1 for n in range(21)}},
        {"held_reasons": {"Bad Code!": 1}},
        {"held_reasons": {"nul\u0000": 1}},
        {"app_version": "\ud800"},
    ],
)
def test_heartbeat_refuses_reports_out_of_bounds(
    alice_client: Client, kiosk: Kiosk, report: dict[str, Any]
) -> None:
    response = alice_client.post(
        "/api/kiosk/heartbeat", report, content_type="application/json", headers=kiosk.headers
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_failed"


def test_a_revoked_tablet_still_reports_what_waits_on_it(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    with tenant_context(alice_tenant):
        services.device_revoke(actor=None, device=kiosk.device)
    response = alice_client.post(
        "/api/kiosk/heartbeat",
        {"queue_depth": 2},
        content_type="application/json",
        headers=kiosk.headers,
    )
    assert response.status_code == 401
    with tenant_context(alice_tenant):
        device = Device.objects.get(pk=kiosk.device.pk)
    assert device.queue_depth == 2
    assert device.last_seen_at is None, "a revoked tablet is not seen as online"
    assert alice_client.get("/api/kiosk/form", headers=kiosk.headers).status_code == 401


def test_pairing_again_takes_over_what_waited_on_the_revoked_tablet(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    with tenant_context(alice_tenant):
        services.device_revoke(actor=None, device=kiosk.device)
        services.device_heartbeat(
            device=Device.objects.get(pk=kiosk.device.pk),
            app_version="kiosk",
            queue_depth=2,
            held=1,
            held_reasons={"invalid_email": 1},
            oldest_unsent_at=timezone.now(),
        )
        _, code = services.pairing_code_create(
            actor=None, location=kiosk.location, device_name="Till 1"
        )
    response = alice_client.post(
        "/api/kiosk/pair",
        {"code": code, "previous_token": kiosk.token},
        content_type="application/json",
    )
    assert response.status_code == 201
    with tenant_context(alice_tenant):
        old = Device.objects.get(pk=kiosk.device.pk)
    assert (old.queue_depth, old.held_count, old.held_reasons) == (0, 0, {})
    # A heartbeat of the old token still on its way changes nothing: the queue moved on.
    late = alice_client.post(
        "/api/kiosk/heartbeat",
        {"app_version": "kiosk", "queue_depth": 2, "held": 1},
        content_type="application/json",
        headers=kiosk.headers,
    )
    assert late.status_code == 401
    with tenant_context(alice_tenant):
        old = Device.objects.get(pk=kiosk.device.pk)
    assert (old.queue_depth, old.held_count) == (0, 0)
