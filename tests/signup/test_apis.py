"""The kiosk API as a tablet uses it, bad input of every kind, and tenant isolation."""

from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from customerinfo.core.audit import sha256
from signup import services
from signup.authentication import DeviceRateThrottle
from signup.models import Consent, ConsentText, Submission
from tenants.models import Tenant
from tests.signup.factories import Kiosk, kiosk_create, submission_body, submission_post

pytestmark = pytest.mark.django_db


def test_pairing_returns_a_token_once(alice_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        location = services.location_create(
            actor=None, name="Rivoli", code="rivoli", country="FR", time_zone="Europe/Paris"
        )
        _, code = services.pairing_code_create(actor=None, location=location, device_name="Till")
    response = alice_client.post(
        "/api/kiosk/pair", {"code": code.lower()}, content_type="application/json"
    )
    assert response.status_code == 201
    assert len(response.json()["device_token"]) >= 40
    assert response.json()["location"]["name"] == "Rivoli"
    again = alice_client.post("/api/kiosk/pair", {"code": code}, content_type="application/json")
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "pairing_code_expired"


def test_a_wrong_code_is_refused_and_burns_after_five_tries(
    alice_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        location = services.location_create(
            actor=None, name="Rivoli", code="rivoli", country="FR", time_zone="Europe/Paris"
        )
        _, code = services.pairing_code_create(actor=None, location=location, device_name="Till")
    lookup = code.split("-")[0]
    codes = []
    for _ in range(5):
        response = alice_client.post(
            "/api/kiosk/pair", {"code": f"{lookup}-AAAAAA"}, content_type="application/json"
        )
        codes.append(response.json()["error"]["code"])
    assert codes == ["invalid_pairing_code"] * 5
    locked = alice_client.post("/api/kiosk/pair", {"code": code}, content_type="application/json")
    assert locked.json()["error"]["code"] == "pairing_code_locked"


@pytest.mark.parametrize("payload", [{}, {"code": ""}, {"code": "x" * 30}])
def test_pairing_bad_input(alice_client: Client, payload: dict[str, str]) -> None:
    response = alice_client.post("/api/kiosk/pair", payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_failed"
    assert "code" in response.json()["error"]["fields"]


def test_malformed_json_gets_a_clear_error(alice_client: Client) -> None:
    response = alice_client.post("/api/kiosk/pair", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"


def test_form_is_served_with_consent_wording_references(alice_client: Client, kiosk: Kiosk) -> None:
    response = alice_client.get("/api/kiosk/form", headers=kiosk.headers)
    assert response.status_code == 200
    form = response.json()
    assert form["version"] == kiosk.version.pk
    assert form["location"]["country"] == "FR"
    wording = form["definition"]["consents"]["email"]["wording"]["fr"]
    assert len(wording["hash"]) == 64


def test_store_overrides_replace_the_brand_texts(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        kiosk.location.overrides = {"texts": {"welcome": {"en": "Welcome to Rivoli"}}}
        kiosk.location.save()
    texts = alice_client.get("/api/kiosk/form", headers=kiosk.headers).json()["definition"]["texts"]
    assert texts["welcome"]["en"] == "Welcome to Rivoli"
    assert texts["welcome"]["fr"] == "Rejoignez notre liste"


def test_no_published_form_is_a_clear_404(alice_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        location = services.location_create(
            actor=None, name="New", code="new", country="FR", time_zone="Europe/Paris"
        )
        _, code = services.pairing_code_create(actor=None, location=location, device_name="T")
        _, token = services.device_pair(code=code)
    response = alice_client.get("/api/kiosk/form", headers={"Authorization": f"Device {token}"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_published_form"


def test_submission_is_stored_normalised_with_consent_evidence(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    payload = submission_body(kiosk, consents={"email": True, "sms": True})
    response = submission_post(alice_client, kiosk, payload)
    assert response.status_code == 201, response.json()
    assert response.json()["duplicate"] is False
    with tenant_context(alice_tenant):
        submission = Submission.objects.get(pk=payload["id"])
        assert submission.email == "ann.lee@example.com"
        assert submission.phone == "+33612345678"
        assert submission.location == kiosk.location
        assert submission.device == kiosk.device
        consents = {c.channel: c for c in Consent.objects.filter(submission=submission)}
        assert consents["email"].granted
        assert consents["sms"].granted
        sms_text = ConsentText.objects.get(pk=consents["sms"].text_id)
        assert "STOP" in sms_text.text, "the disclosure is part of the wording agreed to"
        assert consents["email"].text_hash == sha256(consents["email"].text.text)
        assert consents["email"].locale == "fr"
        assert consents["email"].device == kiosk.device
        assert consents["email"].captured_at == submission.captured_at


def test_a_repeat_returns_the_first_result_and_stores_nothing(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    payload = submission_body(kiosk)
    first = submission_post(alice_client, kiosk, payload)
    repeat = submission_post(
        alice_client, kiosk, {**payload, "answers": {"email": "other@example.com"}}
    )
    assert repeat.status_code == 200
    assert repeat.json()["duplicate"] is True
    assert repeat.json()["received_at"] == first.json()["received_at"]
    with tenant_context(alice_tenant):
        assert Submission.objects.count() == 1
        assert Submission.objects.get().email == "ann.lee@example.com"


def test_an_old_version_still_validates_after_republishing(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        draft = kiosk.form.draft
        draft["fields"] = [f for f in draft["fields"] if f["key"] != "phone"]
        draft["consents"]["sms"]["enabled"] = False
        services.form_draft_update(actor=None, form=kiosk.form, definition=draft)
        newer = services.form_publish(actor=None, form=kiosk.form)
    assert newer.number == 2
    # Captured offline on version 1, with a phone and SMS consent that version 2 no longer has.
    response = submission_post(
        alice_client, kiosk, submission_body(kiosk, consents={"email": False, "sms": True})
    )
    assert response.status_code == 201, response.json()


def test_every_field_type_is_checked_with_a_stable_code(alice_client: Client, kiosk: Kiosk) -> None:
    answers = {
        "email": "not-an-email",
        "phone": "12",
        "birthday": {"month": 2, "day": 30},
        "postal_code": "!!",
        "drink": "beer",
        "drinks": ["tea", "wine"],
        "vip": "yes",
        "note": "x" * 201,
        "first_name": "y" * 101,
        "unknown": 1,
    }
    response = submission_post(
        alice_client, kiosk, submission_body(kiosk, answers=answers, consents={"fax": True})
    )
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    codes = {key: [e["code"] for e in errors] for key, errors in fields.items()}
    assert codes == {
        "email": ["invalid_email"],
        "phone": ["invalid_phone"],
        "birthday": ["invalid_birthday"],
        "postal_code": ["invalid_postal_code"],
        "drink": ["invalid_choice"],
        "drinks": ["invalid_choice"],
        "vip": ["invalid"],
        "note": ["too_long"],
        "first_name": ["too_long"],
        "unknown": ["unknown_field"],
        "consents.fax": ["unknown_consent"],
    }


def test_good_answers_of_every_type_are_kept(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    answers = {
        "email": "a@example.com",
        "birthday": {"month": 2, "day": 29},
        "postal_code": "75001",
        "drink": "tea",
        "drinks": ["tea", "coffee"],
        "vip": True,
        "note": " hello ",
        "last_name": "Lee",
    }
    payload = submission_body(kiosk, answers=answers)
    assert submission_post(alice_client, kiosk, payload).status_code == 201
    with tenant_context(alice_tenant):
        stored = Submission.objects.get(pk=payload["id"])
    assert (stored.birthday_month, stored.birthday_day, stored.postal_code) == (2, 29, "75001")
    assert stored.answers == {
        "drink": "tea",
        "drinks": ["tea", "coffee"],
        "vip": True,
        "note": "hello",
    }


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"answers": {"first_name": "No email"}}, "email", "required"),
        ({"answers": {"email": "not an email"}}, "email", "invalid_email"),
        ({"answers": {"email": "ann\u0000@example.com"}}, "email", "invalid_email"),
        ({"locale": "de"}, "locale", "invalid"),
        ({"locale": " fr "}, "locale", "invalid"),
        ({"id": "not-a-uuid"}, "id", "invalid"),
        ({"form_version": 2**63}, "form_version", "max_value"),
        ({"answers": None}, "answers", "null"),
        ({"captured_at": "yesterday"}, "captured_at", "invalid"),
        ({"answers": []}, None, None),
    ],
)
def test_submissions_without_a_usable_email_are_refused_field_by_field(
    alice_client: Client, kiosk: Kiosk, changes: dict[str, Any], field: str | None, code: str | None
) -> None:
    response = submission_post(alice_client, kiosk, submission_body(kiosk, **changes))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["message"]
    if field is not None:
        assert code in [e["code"] for e in error["fields"][field]]


def test_unknown_form_version_is_refused(alice_client: Client, kiosk: Kiosk) -> None:
    response = submission_post(alice_client, kiosk, submission_body(kiosk, form_version=999_999))
    assert response.json()["error"]["code"] == "unknown_form_version"


def test_the_same_id_from_another_tablet_is_a_conflict(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    payload = submission_body(kiosk)
    submission_post(alice_client, kiosk, payload)
    with tenant_context(alice_tenant):
        other = kiosk_create(code="other")
    response = submission_post(alice_client, other, payload)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "id_conflict"


@pytest.mark.parametrize(
    "header",
    ["", "Device nope", "Token abc", "Device "],
)
def test_requests_without_a_valid_device_token_are_refused(
    alice_client: Client, header: str
) -> None:
    response = alice_client.get("/api/kiosk/form", headers={"Authorization": header})
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] in ("authentication_failed", "not_authenticated")


def test_a_revoked_tablet_is_locked_out_at_once(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        services.device_revoke(actor=None, device=kiosk.device)
    response = submission_post(alice_client, kiosk, submission_body(kiosk))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_heartbeat_records_the_queue(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    oldest = timezone.now() - timedelta(hours=2)
    response = alice_client.post(
        "/api/kiosk/heartbeat",
        {"app_version": "1.2.3", "queue_depth": 3, "oldest_unsent_at": oldest.isoformat()},
        content_type="application/json",
        headers=kiosk.headers,
    )
    assert response.status_code == 200
    assert response.json()["form_version"] == kiosk.version.pk
    with tenant_context(alice_tenant):
        kiosk.device.refresh_from_db()
    assert kiosk.device.queue_depth == 3
    assert kiosk.device.oldest_unsent_at == oldest
    assert kiosk.device.last_seen_at is not None
    bad = alice_client.post(
        "/api/kiosk/heartbeat",
        {"queue_depth": -1},
        content_type="application/json",
        headers=kiosk.headers,
    )
    assert bad.json()["error"]["fields"]["queue_depth"][0]["code"] == "min_value"


def test_a_device_is_rate_limited(alice_client: Client, kiosk: Kiosk) -> None:
    rates = {"device": "2/min", "pairing": "10/min"}
    with patch.object(DeviceRateThrottle, "THROTTLE_RATES", rates):
        responses = [alice_client.get("/api/kiosk/form", headers=kiosk.headers) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    error = responses[-1].json()["error"]
    assert error["code"] == "rate_limited"
    assert int(responses[-1]["Retry-After"]) > 0


def test_pairing_is_rate_limited_per_address(alice_client: Client) -> None:
    statuses = [
        alice_client.post(
            "/api/kiosk/pair", {"code": "AAAA-BBBBBB"}, content_type="application/json"
        ).status_code
        for _ in range(11)
    ]
    assert statuses == [400] * 10 + [429]


# --- isolation: charlie's tablets and host see nothing of alice's ------------------------------


def test_alices_device_token_means_nothing_on_charlies_host(
    charlie_client: Client, kiosk: Kiosk
) -> None:
    for method, path in [
        ("get", "/api/kiosk/form"),
        ("post", "/api/kiosk/submissions"),
        ("post", "/api/kiosk/heartbeat"),
    ]:
        response = getattr(charlie_client, method)(
            path, content_type="application/json", headers=kiosk.headers
        )
        assert response.status_code == 401, path


def test_alices_pairing_code_does_not_pair_on_charlies_host(
    charlie_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        location = services.location_create(
            actor=None, name="Rivoli", code="rivoli", country="FR", time_zone="Europe/Paris"
        )
        _, code = services.pairing_code_create(actor=None, location=location, device_name="T")
    response = charlie_client.post(
        "/api/kiosk/pair", {"code": code}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_pairing_code"


def test_charlies_tablet_cannot_submit_to_alices_form_version(
    charlie_client: Client, kiosk: Kiosk, charlie_tenant: Tenant, alice_tenant: Tenant
) -> None:
    with tenant_context(charlie_tenant):
        charlies = kiosk_create(code="charlie-store")
    # Alice's version id, sent by charlie's tablet: looked up in charlie's schema only.
    payload = submission_body(charlies, form_version=kiosk.version.pk + 1000)
    response = submission_post(charlie_client, charlies, payload)
    assert response.json()["error"]["code"] == "unknown_form_version"
    with tenant_context(alice_tenant):
        assert not Submission.objects.filter(pk=payload["id"]).exists()


def test_openapi_schema_is_served(alice_client: Client) -> None:
    response = alice_client.get(
        "/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}
    )
    assert response.status_code == 200
    assert b"/api/kiosk/submissions" in response.content
