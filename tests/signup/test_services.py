import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from customerinfo.core.audit import sha256
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditEntry
from signup import services
from signup.models import Consent, Location, PairingCode, Submission
from tests.signup.factories import Kiosk, kiosk_create

pytestmark = pytest.mark.django_db


def _submit(kiosk: Kiosk, email: str = "ann@example.com", days_ago: int = 0) -> Submission:
    submission, _ = services.submission_create(
        device=kiosk.device,
        submission_id=uuid.uuid4(),
        form_version_id=kiosk.version.pk,
        locale="en",
        captured_at=timezone.now(),
        answers={"email": email},
        consents={"email": True},
    )
    if days_ago:
        Submission.objects.filter(pk=submission.pk).update(
            received_at=timezone.now() - timedelta(days=days_ago)
        )
    return submission


@pytest.mark.usefixtures("in_alice")
def test_location_checks_and_audit() -> None:
    with pytest.raises(ServiceError) as caught:
        services.location_create(
            actor=None, name=" ", code="a b", country="France", time_zone="Mars/Base"
        )
    assert set(caught.value.fields) == {"name", "code", "country", "time_zone"}
    location = services.location_create(
        actor=None, name="Rivoli", code="Rivoli", country="fr", time_zone="Europe/Paris"
    )
    assert (location.code, location.country) == ("rivoli", "FR")
    with pytest.raises(ServiceError) as duplicate:
        services.location_create(
            actor=None, name="R2", code="rivoli", country="FR", time_zone="UTC"
        )
    assert duplicate.value.code == "duplicate"
    services.location_update(
        actor=None,
        location=location,
        name="Rivoli 2",
        country="fr",
        time_zone="UTC",
        form=None,
        overrides={"texts": {}},
        is_active=False,
    )
    entry = AuditEntry.objects.filter(action="location.update").get()
    assert entry.old == {**(entry.old or {}), "name": "Rivoli"}
    assert entry.new == {**(entry.new or {}), "name": "Rivoli 2", "is_active": False}


@pytest.mark.usefixtures("in_alice")
def test_forms_need_a_name_and_only_one_is_the_default() -> None:
    with pytest.raises(ServiceError):
        services.form_create(actor=None, name=" ")
    first = services.form_create(actor=None, name="A", is_default=True)
    second = services.form_create(actor=None, name="B", is_default=True)
    first.refresh_from_db()
    assert not first.is_default
    assert second.is_default


@pytest.mark.usefixtures("in_alice")
def test_publishing_reuses_identical_consent_wording() -> None:
    kiosk = kiosk_create()
    again = services.form_publish(actor=None, form=kiosk.form)
    assert again.number == 2
    first = kiosk.version.definition["consents"]["email"]["wording"]["en"]
    assert again.definition["consents"]["email"]["wording"]["en"] == first


@pytest.mark.usefixtures("in_alice")
def test_pairing_code_needs_a_device_name() -> None:
    location = Location.objects.create(name="S", code="s")
    with pytest.raises(ServiceError):
        services.pairing_code_create(actor=None, location=location, device_name=" ")


@pytest.mark.usefixtures("in_alice")
def test_expired_and_unknown_codes() -> None:
    location = Location.objects.create(name="S", code="s")
    row, code = services.pairing_code_create(actor=None, location=location, device_name="T")
    PairingCode.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ServiceError) as expired:
        services.device_pair(code=code)
    assert expired.value.code == "pairing_code_expired"
    with pytest.raises(ServiceError) as unknown:
        services.device_pair(code="ZZZZ-ZZZZZZ")
    assert unknown.value.code == "invalid_pairing_code"


@pytest.mark.usefixtures("in_alice")
def test_revoking_twice_keeps_the_first_time() -> None:
    kiosk = kiosk_create()
    first = services.device_revoke(actor=None, device=kiosk.device).revoked_at
    assert services.device_revoke(actor=None, device=kiosk.device).revoked_at == first
    assert services.device_for_token(token=kiosk.token) is None


@pytest.mark.usefixtures("in_alice")
def test_a_repeat_inserts_neither_submission_nor_consents() -> None:
    kiosk = kiosk_create()
    first = _submit(kiosk)
    again, created = services.submission_create(
        device=kiosk.device,
        submission_id=first.pk,
        form_version_id=kiosk.version.pk,
        locale="en",
        captured_at=timezone.now(),
        answers={"email": "changed@example.com"},
        consents={"email": False},
    )
    assert not created
    assert again.email == "ann@example.com"
    # The first upload's decisions stand: email granted, SMS (offered, not ticked) refused.
    granted = dict(Consent.objects.filter(submission=first).values_list("channel", "granted"))
    assert granted == {"email": True, "sms": False}


@pytest.mark.usefixtures("in_alice")
def test_retention_purges_only_old_sign_ups_and_says_so() -> None:
    kiosk = kiosk_create()
    with pytest.raises(ServiceError):
        services.retention_update(actor=None, days=5)
    services.retention_update(actor=None, days=30)
    old, recent = _submit(kiosk, days_ago=31), _submit(kiosk, days_ago=29)
    assert services.retention_purge() == 1
    assert list(Submission.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not Submission.objects.filter(pk=old.pk).exists()
    assert AuditEntry.objects.filter(
        action="submission.purge", actor_label="system:retention"
    ).exists()
    assert services.retention_purge() == 0


@pytest.mark.usefixtures("in_alice")
def test_export_and_erase_everything_about_one_email() -> None:
    kiosk = kiosk_create()
    _submit(kiosk, email="ann@example.com")
    _submit(kiosk, email="ANN@example.com")
    _submit(kiosk, email="bob@example.com")

    exported = services.shopper_export(email=" Ann@Example.com")
    assert exported["email"] == "ann@example.com"
    assert len(exported["submissions"]) == 2
    consent = exported["submissions"][0]["consents"][0]
    assert consent["channel"] == "email"
    assert consent["granted"] is True
    assert "unsubscribe" in consent["wording"]

    assert services.shopper_erase(actor=None, email="ann@example.com") == 2
    assert list(Submission.objects.values_list("email", flat=True)) == ["bob@example.com"]
    entry = AuditEntry.objects.get(action="shopper.erase")
    assert "ann@example.com" not in str(entry.new)
    assert entry.new == {
        "email_sha256": sha256("ann@example.com"),
        "submissions_deleted": 2,
        "rejected_deleted": 0,
    }
