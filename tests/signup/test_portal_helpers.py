"""Helpers shared by the portal tests: data made through the real services, in a tenant's schema.

Plain functions rather than fixtures, so each test says what it builds. This module holds no tests.
"""

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import Role, User
from signup import services
from signup.definitions import LANGUAGES, default_definition
from signup.models import Device, Form, Location, RejectedSubmission, Submission
from tenants.models import Tenant
from tests.conftest import PASSWORD


def staff_user(tenant: Tenant, email: str = "sam@alice.example") -> User:
    with tenant_context(tenant):
        return User.objects.create_user(email, PASSWORD, full_name="Sam", role=Role.STAFF)


def definition_with_phone() -> dict[str, Any]:
    definition = default_definition()
    definition["fields"].append(
        {
            "key": "phone",
            "type": "phone",
            "required": False,
            "label": {"en": "Phone", "fr": "Téléphone", "es": "Teléfono"},
            "help": {},
        }
    )
    definition["consents"]["sms"]["enabled"] = True
    return definition


def make_form(tenant: Tenant, name: str = "Main form", *, publish: bool = True) -> Form:
    with tenant_context(tenant):
        form = services.form_create(
            actor=None, name=name, is_default=True, definition=definition_with_phone()
        )
        if publish:
            services.form_publish(actor=None, form=form)
        return Form.objects.get(pk=form.pk)


def make_location(tenant: Tenant, code: str = "paris", name: str = "Paris Rivoli") -> Location:
    with tenant_context(tenant):
        return services.location_create(
            actor=None, name=name, code=code, country="FR", time_zone="Europe/Paris"
        )


def make_device(tenant: Tenant, location: Location, name: str = "Till 1") -> tuple[Device, str]:
    with tenant_context(tenant):
        _, code = services.pairing_code_create(actor=None, location=location, device_name=name)
        return services.device_pair(code=code)


def make_submission(
    tenant: Tenant,
    device: Device,
    email: str,
    *,
    received_at: datetime | None = None,
    sms: bool | None = None,
    first_name: str = "",
) -> Submission:
    """A sign-up through submission_create, on the tenant's published default form."""
    with tenant_context(tenant):
        form = Form.objects.get(is_default=True)
        assert form.current_version is not None
        answers: dict[str, Any] = {"email": email}
        if first_name:
            answers["first_name"] = first_name
        consents: dict[str, bool] = {"email": True}
        if sms is not None:
            consents["sms"] = sms
            answers["phone"] = "+33612345678"
        submission, _ = services.submission_create(
            device=device,
            submission_id=uuid.uuid4(),
            form_version_id=form.current_version.pk,
            locale="en",
            captured_at=timezone.now() - timedelta(seconds=5),
            answers=answers,
            consents=consents,
        )
        if received_at is not None:
            Submission.objects.filter(pk=submission.pk).update(received_at=received_at)
            submission.refresh_from_db()
        return submission


def make_set_aside(
    tenant: Tenant, device: Device, email: str, *, answers: dict[str, Any] | None = None
) -> Submission:
    """A sign-up stored with answers set aside: by default a phone number that is not one."""
    with tenant_context(tenant):
        form = Form.objects.get(is_default=True)
        assert form.current_version is not None
        submission, _ = services.submission_create(
            device=device,
            submission_id=uuid.uuid4(),
            form_version_id=form.current_version.pk,
            locale="en",
            captured_at=timezone.now() - timedelta(seconds=5),
            answers={"email": email, **(answers if answers is not None else {"phone": "12345"})},
            consents={"email": True},
        )
        assert submission.set_aside, "nothing was set aside"
        return submission


def make_rejection(
    tenant: Tenant, device: Device, typed_email: str, *, first_name: str = "Ann"
) -> RejectedSubmission:
    """A sign-up refused whole for its email, recorded as the server records it."""
    with tenant_context(tenant):
        form = Form.objects.get(is_default=True)
        assert form.current_version is not None
        submission_id = uuid.uuid4()
        captured_at = timezone.now() - timedelta(minutes=3)
        payload = {
            "id": str(submission_id),
            "form_version": form.current_version.pk,
            "locale": "en",
            "captured_at": captured_at.isoformat(),
            "answers": {"email": typed_email, "first_name": first_name},
            "consents": {"email": True},
        }
        rejection, created = services.rejection_record(
            device=device,
            submission_id=submission_id,
            status_code=400,
            code="validation_failed",
            message="The sign-up has no usable email address.",
            fields={
                "email": [{"code": "invalid_email", "message": "Enter a valid email address."}]
            },
            payload=json.dumps(payload, ensure_ascii=True),
            captured_at=captured_at,
        )
        assert created
        return rejection


def _texts(data: dict[str, str], path: str, value: Any) -> None:
    for language in LANGUAGES:
        data[f"{path}.{language}"] = (value or {}).get(language, "")


def builder_data(definition: dict[str, Any], **extra: str) -> dict[str, Any]:
    """What the builder page posts for ``definition`` (its inputs, named by definition path)."""
    data: dict[str, Any] = {"languages": list(definition["languages"])}
    for index, field in enumerate(definition["fields"]):
        path = f"fields.{index}"
        data[f"{path}.type"] = field["type"]
        data[f"{path}.key"] = field["key"]
        if field.get("required"):
            data[f"{path}.required"] = "on"
        _texts(data, f"{path}.label", field.get("label"))
        _texts(data, f"{path}.help", field.get("help"))
        for number, option in enumerate(field.get("options", [])):
            data[f"{path}.options.{number}.value"] = option["value"]
            _texts(data, f"{path}.options.{number}.label", option.get("label"))
    for channel, consent in definition["consents"].items():
        if consent.get("enabled"):
            data[f"consents.{channel}.enabled"] = "on"
        _texts(data, f"consents.{channel}.text", consent.get("text"))
    _texts(data, "consents.sms.disclosure", definition["consents"]["sms"].get("disclosure"))
    if definition.get("double_opt_in"):
        data["double_opt_in"] = "on"
    for name in ("welcome", "thank_you"):
        _texts(data, f"texts.{name}", definition["texts"].get(name))
    for name, value in definition["branding"].items():
        data[f"branding.{name}"] = value
    data["idle_timeout_seconds"] = str(definition["idle_timeout_seconds"])
    data.update(extra)
    return data
