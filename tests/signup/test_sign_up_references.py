"""What sign-ups point to is kept, though the database checks no foreign key on them
(signup/models.py, SIGN_UP_REFERENCES)."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django_tenants.utils import tenant_context

from signup.models import Consent, ConsentText, Device, FormVersion, Location, Submission
from tenants.models import Tenant
from tests.signup.factories import Kiosk, location_create, submission_body, submission_post

pytestmark = pytest.mark.django_db


def _refused(statement: str) -> str:
    with pytest.raises(IntegrityError) as refused, transaction.atomic(), connection.cursor() as c:
        c.execute(statement)
    return str(refused.value)


def test_stores_form_versions_and_consent_texts_cannot_be_deleted(kiosk: Kiosk) -> None:
    empty = location_create(code="empty", name="Empty")  # no sign-up points to it
    text = ConsentText.objects.first()
    assert text is not None
    for model, pk in (
        (Location, empty.pk),
        (FormVersion, kiosk.version.pk),
        (ConsentText, text.pk),
    ):
        table = model._meta.db_table
        message = _refused(f"DELETE FROM {table} WHERE id = {pk}")
        assert f"rows of {table} are kept" in message
        with pytest.raises(IntegrityError), transaction.atomic():
            model.objects.filter(pk=pk).delete()
        assert model.objects.filter(pk=pk).exists()


def test_a_deleted_tablet_leaves_its_sign_ups_without_one(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    payload = submission_body(kiosk)
    assert submission_post(alice_client, kiosk, payload).status_code == 201
    with tenant_context(alice_tenant):
        Device.objects.filter(pk=kiosk.device.pk).delete()
        stored = Submission.objects.get(pk=payload["id"])
        assert stored.device_id is None
        consents = list(Consent.objects.filter(submission=stored))
        assert consents
        assert all(consent.device_id is None for consent in consents)


def test_a_deleted_sign_up_takes_its_consents(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    payload = submission_body(kiosk)
    assert submission_post(alice_client, kiosk, payload).status_code == 201
    with tenant_context(alice_tenant):
        assert Consent.objects.filter(submission_id=payload["id"]).exists()
        Submission.objects.filter(pk=payload["id"]).delete()
        assert not Consent.objects.filter(submission_id=payload["id"]).exists()


def test_sign_ups_and_consents_have_no_foreign_key_to_check(kiosk: Kiosk) -> None:
    # Each one would cost every sign-up a lookup and a lock of the row it points to.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid IN (%s::regclass, %s::regclass)",
            ["signup_submission", "signup_consent"],
        )
        assert cursor.fetchall() == []
