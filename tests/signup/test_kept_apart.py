"""A thanked sign-up is stored: answers set aside, refusals recorded, queues reported, closed
stores, and a manager's release that sends the fixed sign-up to the CRM."""

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditEntry
from outbox.models import Delivery, DeliveryStatus
from signup import services
from signup.models import Consent, Device, RejectedSubmission, Submission
from tenants.models import Tenant
from tests.crm_sync.factories import webhook_destination
from tests.signup.factories import Kiosk, kiosk_create
from tests.signup.test_apis import body, submit

pytestmark = pytest.mark.django_db


def stored(tenant: Tenant, submission_id: str) -> Submission:
    with tenant_context(tenant):
        return Submission.objects.get(pk=submission_id)


@pytest.mark.parametrize(
    ("country", "phone"),
    [("US", "0612345678"), ("US", "123456"), ("FR", "12"), ("GB", "07")],
)
def test_a_phone_the_server_refuses_is_set_aside_and_the_sign_up_stored(
    alice_client: Client, alice_tenant: Tenant, country: str, phone: str
) -> None:
    with tenant_context(alice_tenant):
        tablet = kiosk_create(code=f"store-{country.lower()}", country=country)
    payload = body(tablet, answers={"email": "ann@example.com", "phone": phone})
    response = submit(alice_client, tablet, payload)
    assert response.status_code == 201
    assert response.json()["set_aside"] == {"phone": "invalid_phone"}
    row = stored(alice_tenant, payload["id"])
    assert (row.email, row.phone) == ("ann@example.com", "")
    assert row.set_aside["phone"]["value"] == phone
    with tenant_context(alice_tenant):
        assert Consent.objects.get(submission=row, channel="email").granted


@pytest.mark.parametrize(
    "case",
    [
        ({"first_name": "An\u0000n"}, {}, "first_name", "invalid_characters"),
        ({"first_name": "\ud800"}, {}, "first_name", "invalid_characters"),
        ({"note": "x" * 201}, {}, "note", "too_long"),
        ({"note": ["a", "list"]}, {}, "note", "invalid"),
        ({"drink": "wine"}, {}, "drink", "invalid_choice"),
        ({"vip": "yes"}, {}, "vip", "invalid"),
        ({"birthday": {"month": 2, "day": 30}}, {}, "birthday", "invalid_birthday"),
        ({"birthday": {"month": True, "day": 1}}, {}, "birthday", "invalid_birthday"),
        ({"postal_code": "!"}, {}, "postal_code", "invalid_postal_code"),
        ({"shoe_size": 42}, {}, "shoe_size", "unknown_field"),
        ({"nul\u0000key": 1}, {}, "nul\ufffdkey", "unknown_field"),
        ({}, {"email": "yes"}, "consents.email", "invalid"),
        ({}, {"fax": True}, "consents.fax", "unknown_consent"),
        ({"phone": ""}, {"sms": True}, "consents.sms", "phone_required"),
    ],
)
def test_any_answer_the_server_refuses_is_kept_apart_with_its_code(
    alice_client: Client,
    alice_tenant: Tenant,
    kiosk: Kiosk,
    case: tuple[dict[str, Any], dict[str, Any], str, str],
) -> None:
    answers, consents, key, code = case
    payload = body(
        kiosk,
        answers={"email": "ann@example.com", **answers},
        consents={"email": True, **consents},
    )
    response = submit(alice_client, kiosk, payload)
    assert response.status_code == 201, response.json()
    assert response.json()["set_aside"][key] == code
    row = stored(alice_tenant, payload["id"])
    assert row.set_aside[key]["code"] == code
    assert row.email == "ann@example.com"
    if key == "consents.sms":
        with tenant_context(alice_tenant):
            assert not Consent.objects.get(submission=row, channel="sms").granted


def test_a_tablet_clock_far_ahead_is_kept_as_evidence(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    payload = body(kiosk, captured_at="2999-01-01T00:00:00Z")
    response = submit(alice_client, kiosk, payload)
    assert response.status_code == 201
    row = stored(alice_tenant, payload["id"])
    assert row.set_aside["captured_at"]["value"].startswith("2999-01-01")
    assert abs(row.captured_at - row.received_at) < timedelta(seconds=5)


@pytest.mark.parametrize(
    "case",
    [
        ({"answers": {"first_name": "No email"}}, "validation_failed", 400),
        ({"answers": {"email": "ann@gmail"}}, "validation_failed", 400),
        ({"form_version": 999_999}, "unknown_form_version", 400),
        ({"locale": "de"}, "validation_failed", 400),
    ],
)
def test_a_refused_sign_up_is_recorded_with_its_payload(
    alice_client: Client,
    alice_tenant: Tenant,
    kiosk: Kiosk,
    case: tuple[dict[str, Any], str, int],
) -> None:
    changes, code, status = case
    payload = body(kiosk, **changes)
    response = submit(alice_client, kiosk, payload)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    with tenant_context(alice_tenant):
        rejection = RejectedSubmission.objects.get(pk=payload["id"])
        assert not Submission.objects.filter(pk=payload["id"]).exists()
    assert (rejection.code, rejection.status_code) == (code, status)
    assert json.loads(rejection.payload)["answers"] == payload["answers"]
    assert rejection.device_id == kiosk.device.pk
    # The tablet's own upload of the same refusal finds it there.
    upload = alice_client.post(
        "/api/kiosk/rejections",
        {"id": payload["id"], "status": status, "payload": json.dumps(payload)},
        content_type="application/json",
        headers=kiosk.headers,
    )
    assert (upload.status_code, upload.json()["duplicate"]) == (200, True)


def test_a_refused_email_with_a_nul_byte_is_stored_escaped(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    payload = body(kiosk, answers={"email": "ann\u0000@example.com", "first_name": "\ud800"})
    assert submit(alice_client, kiosk, payload).status_code == 400
    with tenant_context(alice_tenant):
        rejection = RejectedSubmission.objects.get(pk=payload["id"])
    assert "\\u0000" in rejection.payload
    assert json.loads(rejection.payload)["answers"]["first_name"] == "\ud800"


def test_the_tablet_uploads_what_the_server_never_saw(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    submission_id = str(uuid.uuid4())
    sent = json.dumps({"id": submission_id, "answers": {"email": "Bea@Example.com"}})
    response = alice_client.post(
        "/api/kiosk/rejections",
        {
            "id": submission_id,
            "status": 413,
            "error": {"code": "too_large", "message": "Too large."},
            "payload": sent,
            "captured_at": timezone.now().isoformat(),
        },
        content_type="application/json",
        headers=kiosk.headers,
    )
    assert (response.status_code, response.json()["duplicate"]) == (201, False)
    with tenant_context(alice_tenant):
        rejection = RejectedSubmission.objects.get(pk=submission_id)
    assert (rejection.code, rejection.email, rejection.payload) == (
        "too_large",
        "bea@example.com",
        sent,
    )


def test_another_tenants_tablet_cannot_upload_here(
    alice_client: Client, charlie_tenant: Tenant, alice_tenant: Tenant
) -> None:
    with tenant_context(charlie_tenant):
        charlies = kiosk_create()
    response = alice_client.post(
        "/api/kiosk/rejections",
        {"id": str(uuid.uuid4()), "status": 400, "payload": "{}"},
        content_type="application/json",
        headers=charlies.headers,
    )
    assert response.status_code == 401
    with tenant_context(alice_tenant):
        assert not RejectedSubmission.objects.exists()


def test_the_dry_run_says_what_would_happen_and_stores_nothing(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    def check(**changes: Any) -> dict[str, Any]:
        response = alice_client.post(
            "/api/kiosk/submissions/check",
            body(kiosk, **changes),
            content_type="application/json",
            headers=kiosk.headers,
        )
        assert response.status_code == 200
        return dict(response.json())

    assert check() == {"accepted": True, "fields": {}}
    verdict = check(answers={"email": "ann@example.com", "phone": "12"})
    assert verdict["accepted"] is True
    assert verdict["fields"]["phone"][0]["code"] == "invalid_phone"
    verdict = check(answers={"email": "ann@example"})
    assert verdict["accepted"] is False
    assert verdict["fields"]["email"][0]["code"] == "invalid_email"
    assert check(form_version=999_999)["fields"][""][0]["code"] == "unknown_form_version"
    with tenant_context(alice_tenant):
        assert not Submission.objects.exists()
        assert not RejectedSubmission.objects.exists()


def test_the_form_carries_the_rules_the_store_and_whether_it_is_open(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    with tenant_context(alice_tenant):
        services.location_update(
            actor=None,
            location=kiosk.location,
            name=kiosk.location.name,
            country="FR",
            time_zone="Europe/Paris",
            form=None,
            language="fr",
        )
    data = alice_client.get("/api/kiosk/form", headers=kiosk.headers).json()
    assert data["rules"]["phone_country"] == "FR"
    assert data["rules"]["email_max_length"] == 254
    assert data["location"]["language"] == "fr"
    assert data["location"]["accepting"] is True


# --- closed stores -----------------------------------------------------------------------------


def close(tenant: Tenant, kiosk: Kiosk) -> None:
    with tenant_context(tenant):
        services.location_update(
            actor=None,
            location=kiosk.location,
            name=kiosk.location.name,
            country=kiosk.location.country,
            time_zone=kiosk.location.time_zone,
            form=None,
            is_active=False,
        )


def test_a_closed_store_takes_what_was_captured_before_it_closed(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    before = body(kiosk, captured_at=(timezone.now() - timedelta(minutes=5)).isoformat())
    submit(alice_client, kiosk, body(kiosk))  # the process now remembers the tablet
    close(alice_tenant, kiosk)
    assert submit(alice_client, kiosk, before).status_code == 201
    after = body(kiosk, captured_at=(timezone.now() + timedelta(seconds=1)).isoformat())
    refused = submit(alice_client, kiosk, after)
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


# --- release -----------------------------------------------------------------------------------


def test_a_released_phone_is_stored_and_sent_to_the_crm_again(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk, alice: Any
) -> None:
    with tenant_context(alice_tenant):
        webhook_destination(url="https://crm.example/hook")
    payload = body(kiosk, answers={"email": "ann@example.com", "phone": "12"})
    assert submit(alice_client, kiosk, payload).status_code == 201
    with tenant_context(alice_tenant):
        row = Submission.objects.get(pk=payload["id"])
        Delivery.objects.filter(submission_id=row.pk).update(status=DeliveryStatus.DELIVERED)
        with pytest.raises(ServiceError) as still_bad:
            services.set_aside_release(actor=alice, submission=row, key="phone", value="34")
        assert still_bad.value.fields["phone"][0]["code"] == "invalid_phone"
        services.set_aside_release(actor=alice, submission=row, key="phone", value="0612345678")
        row.refresh_from_db()
        assert (row.phone, row.set_aside) == ("+33612345678", {})
        delivery = Delivery.objects.get(submission_id=row.pk)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
        assert AuditEntry.objects.filter(action="submission.release_answer").exists()


def test_an_sms_tick_is_released_once_the_phone_is(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk, alice: Any
) -> None:
    payload = body(
        kiosk,
        answers={"email": "ann@example.com", "phone": "12"},
        consents={"email": True, "sms": True},
    )
    submit(alice_client, kiosk, payload)
    with tenant_context(alice_tenant):
        row = Submission.objects.get(pk=payload["id"])
        with pytest.raises(ServiceError):
            services.set_aside_release(actor=alice, submission=row, key="consents.sms", value=True)
        services.set_aside_release(actor=alice, submission=row, key="phone", value="0612345678")
        services.set_aside_release(actor=alice, submission=row, key="consents.sms", value=True)
        assert Consent.objects.get(submission=row, channel="sms").granted


def test_an_optional_answer_released_empty_is_no_answer(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk, alice: Any
) -> None:
    payload = body(kiosk, answers={"email": "ann@example.com", "note": "x" * 300, "vip": "yes"})
    submit(alice_client, kiosk, payload)
    with tenant_context(alice_tenant):
        row = Submission.objects.get(pk=payload["id"])
        services.set_aside_release(actor=alice, submission=row, key="note", value="")
        services.set_aside_release(actor=alice, submission=row, key="vip", value=False)
        row.refresh_from_db()
        assert (row.set_aside, row.answers) == ({}, {})


def test_discarding_an_answer_keeps_the_sign_up(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk, alice: Any
) -> None:
    payload = body(kiosk, answers={"email": "ann@example.com", "shoe_size": 42})
    submit(alice_client, kiosk, payload)
    with tenant_context(alice_tenant):
        row = Submission.objects.get(pk=payload["id"])
        with pytest.raises(ServiceError) as unknown:
            services.set_aside_release(actor=alice, submission=row, key="shoe_size", value="42")
        assert unknown.value.code == "not_releasable"
        services.set_aside_discard(actor=alice, submission=row, key="shoe_size")
        row.refresh_from_db()
        assert row.set_aside == {}
        with pytest.raises(ServiceError):
            services.set_aside_discard(actor=alice, submission=row, key="shoe_size")


def test_a_rejected_sign_up_released_with_a_fixed_email_is_stored_and_sent(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk, alice: Any
) -> None:
    with tenant_context(alice_tenant):
        webhook_destination(url="https://crm.example/hook")
    payload = body(kiosk, answers={"email": "ann@gmial", "first_name": "Ann", "phone": "12"})
    submit(alice_client, kiosk, payload)
    close(alice_tenant, kiosk)  # a person decides: the store closing since does not matter
    with tenant_context(alice_tenant):
        rejection = RejectedSubmission.objects.get(pk=payload["id"])
        assert rejection.email == "ann@gmial"
        with pytest.raises(ServiceError):
            services.rejection_release(actor=alice, rejection=rejection, answers={})
        submission = services.rejection_release(
            actor=alice, rejection=rejection, answers={"email": "ann@gmail.com"}
        )
        assert (str(submission.pk), submission.email, submission.first_name) == (
            payload["id"],
            "ann@gmail.com",
            "Ann",
        )
        assert submission.set_aside["phone"]["code"] == "invalid_phone"
        assert Consent.objects.get(submission=submission, channel="email").granted
        assert Delivery.objects.filter(submission_id=submission.pk).count() == 1
        rejection.refresh_from_db()
        assert (rejection.resolution, rejection.submission_id) == ("released", submission.pk)
        with pytest.raises(ServiceError) as again:
            services.rejection_release(actor=alice, rejection=rejection, answers={})
        assert again.value.code == "already_resolved"


def test_a_rejected_id_conflict_is_released_under_a_new_id(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk, alice: Any
) -> None:
    payload = body(kiosk)
    submit(alice_client, kiosk, payload)
    with tenant_context(alice_tenant):
        other = kiosk_create(code="other")
    assert submit(alice_client, other, payload).status_code == 409
    with tenant_context(alice_tenant):
        rejection = RejectedSubmission.objects.get(pk=payload["id"])
        assert rejection.code == "id_conflict"
        submission = services.rejection_release(actor=alice, rejection=rejection, answers={})
        assert str(submission.pk) != payload["id"]
        assert submission.device_id == other.device.pk


def test_a_discarded_rejection_is_resolved_and_audited(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk, alice: Any
) -> None:
    payload = body(kiosk, answers={"first_name": "No email"})
    submit(alice_client, kiosk, payload)
    with tenant_context(alice_tenant):
        rejection = RejectedSubmission.objects.get(pk=payload["id"])
        services.rejection_discard(actor=alice, rejection=rejection, reason="test tablet")
        rejection.refresh_from_db()
        assert rejection.resolution == "discarded"
        assert AuditEntry.objects.filter(action="rejection.discard").exists()


# --- privacy -----------------------------------------------------------------------------------


def test_rejected_sign_ups_are_exported_erased_and_purged_with_the_shoppers_data(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk, alice: Any
) -> None:
    payload = body(kiosk, answers={"email": "Ann@gmail"})
    submit(alice_client, kiosk, payload)
    with tenant_context(alice_tenant):
        exported = services.shopper_export(email="ann@gmail")
        assert [r["id"] for r in exported["rejected"]] == [payload["id"]]
        services.shopper_erase(actor=alice, email="ann@gmail")
        assert not RejectedSubmission.objects.exists()
    old = body(kiosk, answers={"email": "old@gmail"})
    submit(alice_client, kiosk, old)
    with tenant_context(alice_tenant):
        services.retention_purge(now=timezone.now() + timedelta(days=3650))
        assert not RejectedSubmission.objects.exists()
