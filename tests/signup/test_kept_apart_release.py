"""What a manager does with what was kept apart: a released answer is stored and the sign-up sent
to the CRM again, an answer or a refused sign-up discarded, and refused sign-ups exported, erased
and purged with the shopper's data.
"""

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
from signup.models import Consent, RejectedSubmission, Submission
from tenants.models import Tenant
from tests.crm_sync.factories import webhook_destination
from tests.signup.factories import (
    Kiosk,
    kiosk_create,
    location_close,
    submission_body,
    submission_post,
)

pytestmark = pytest.mark.django_db


# --- release -----------------------------------------------------------------------------------


def test_a_released_phone_is_stored_and_sent_to_the_crm_again(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk, alice: Any
) -> None:
    with tenant_context(alice_tenant):
        webhook_destination(url="https://crm.example/hook")
    payload = submission_body(kiosk, answers={"email": "ann@example.com", "phone": "12"})
    assert submission_post(alice_client, kiosk, payload).status_code == 201
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
    payload = submission_body(
        kiosk,
        answers={"email": "ann@example.com", "phone": "12"},
        consents={"email": True, "sms": True},
    )
    submission_post(alice_client, kiosk, payload)
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
    payload = submission_body(
        kiosk, answers={"email": "ann@example.com", "note": "x" * 300, "vip": "yes"}
    )
    submission_post(alice_client, kiosk, payload)
    with tenant_context(alice_tenant):
        row = Submission.objects.get(pk=payload["id"])
        services.set_aside_release(actor=alice, submission=row, key="note", value="")
        services.set_aside_release(actor=alice, submission=row, key="vip", value=False)
        row.refresh_from_db()
        assert (row.set_aside, row.answers) == ({}, {})


def test_discarding_an_answer_keeps_the_sign_up(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk, alice: Any
) -> None:
    payload = submission_body(kiosk, answers={"email": "ann@example.com", "shoe_size": 42})
    submission_post(alice_client, kiosk, payload)
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
    payload = submission_body(
        kiosk, answers={"email": "ann@gmial", "first_name": "Ann", "phone": "12"}
    )
    submission_post(alice_client, kiosk, payload)
    with tenant_context(alice_tenant):
        location_close(kiosk.location)  # a person decides: the store closing since does not matter
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
    payload = submission_body(kiosk)
    submission_post(alice_client, kiosk, payload)
    with tenant_context(alice_tenant):
        other = kiosk_create(code="other")
    assert submission_post(alice_client, other, payload).status_code == 409
    with tenant_context(alice_tenant):
        rejection = RejectedSubmission.objects.get(pk=payload["id"])
        assert rejection.code == "id_conflict"
        submission = services.rejection_release(actor=alice, rejection=rejection, answers={})
        assert str(submission.pk) != payload["id"]
        assert submission.device_id == other.device.pk


def test_a_discarded_rejection_is_resolved_and_audited(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk, alice: Any
) -> None:
    payload = submission_body(kiosk, answers={"first_name": "No email"})
    submission_post(alice_client, kiosk, payload)
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
    payload = submission_body(kiosk, answers={"email": "Ann@gmail"})
    submission_post(alice_client, kiosk, payload)
    with tenant_context(alice_tenant):
        exported = services.shopper_export(email="ann@gmail")
        assert [r["id"] for r in exported["rejected"]] == [payload["id"]]
        services.shopper_erase(actor=alice, email="ann@gmail")
        assert not RejectedSubmission.objects.exists()
    old = submission_body(kiosk, answers={"email": "old@gmail"})
    submission_post(alice_client, kiosk, old)
    with tenant_context(alice_tenant):
        services.retention_purge(now=timezone.now() + timedelta(days=3650))
        assert not RejectedSubmission.objects.exists()
