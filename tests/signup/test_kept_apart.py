"""A thanked sign-up is stored: answers the server refuses are set aside, sign-ups it refuses
whole are recorded (and uploaded by the tablet), a dry run says which would be.

Closed stores and the queues tablets report: test_kept_apart_tablets.py. What a manager does with
what was kept apart: test_kept_apart_release.py.
"""

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from signup import services
from signup.models import Consent, RejectedSubmission, Submission
from tenants.models import Tenant
from tests.signup.factories import (
    Kiosk,
    kiosk_create,
    submission_body,
    submission_post,
)

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
    payload = submission_body(tablet, answers={"email": "ann@example.com", "phone": phone})
    response = submission_post(alice_client, tablet, payload)
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
    payload = submission_body(
        kiosk,
        answers={"email": "ann@example.com", **answers},
        consents={"email": True, **consents},
    )
    response = submission_post(alice_client, kiosk, payload)
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
    payload = submission_body(kiosk, captured_at="2999-01-01T00:00:00Z")
    response = submission_post(alice_client, kiosk, payload)
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
    payload = submission_body(kiosk, **changes)
    response = submission_post(alice_client, kiosk, payload)
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
    payload = submission_body(
        kiosk, answers={"email": "ann\u0000@example.com", "first_name": "\ud800"}
    )
    assert submission_post(alice_client, kiosk, payload).status_code == 400
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
            submission_body(kiosk, **changes),
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
