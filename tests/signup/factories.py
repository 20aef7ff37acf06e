"""The sign-up tests' vocabulary: data made through the real services, so it holds what production
would hold.

Conventions, for every function here:

- Makers run in the current schema and take no tenant: enter the tenant's schema first, with
  ``tenant_context(tenant)`` or one of tests/conftest.py's ``in_alice`` and ``kiosk`` fixtures.
  (A request through Django's test client leaves the connection in the schema it routed to, so a
  test that makes rows after a request enters the schema again.)
- A maker is named ``<thing>_create`` and returns what it made, filling in whatever the test
  does not care about; ``location_close`` changes a store the way the portal does.
- Plain data, no database: ``full_definition`` and ``phone_definition`` (form definitions),
  ``builder_data`` (what the form builder page posts), ``submission_body`` (what a tablet sends,
  which ``submission_post`` posts to the kiosk API).
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from customerinfo.core.accounts.models import Role, User
from signup import services
from signup.definitions import LANGUAGES, default_definition
from signup.models import Device, Form, FormVersion, Location, RejectedSubmission, Submission


@dataclass
class Kiosk:
    location: Location
    form: Form
    version: FormVersion
    device: Device
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Device {self.token}"}


# --- form definitions --------------------------------------------------------------------------


def full_definition() -> dict[str, Any]:
    """Every field type and both consents, for tests that exercise all of them."""
    definition = default_definition()
    label = {"en": "L", "fr": "L", "es": "L"}
    options = [{"value": "tea", "label": label}, {"value": "coffee", "label": label}]
    definition["fields"] += [
        {"key": "last_name", "type": "last_name", "required": False, "label": label},
        {"key": "phone", "type": "phone", "required": False, "label": label},
        {"key": "birthday", "type": "birthday", "required": False, "label": label},
        {"key": "postal_code", "type": "postal_code", "required": False, "label": label},
        {
            "key": "drink",
            "type": "single_choice",
            "required": False,
            "label": label,
            "options": options,
        },
        {
            "key": "drinks",
            "type": "multiple_choice",
            "required": False,
            "label": label,
            "options": options,
        },
        {"key": "vip", "type": "checkbox", "required": False, "label": label},
        {"key": "note", "type": "short_text", "required": False, "label": label},
    ]
    definition["consents"]["sms"]["enabled"] = True
    return definition


def phone_definition() -> dict[str, Any]:
    """The default form plus an optional phone field and SMS consent."""
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


# --- the shop: people, forms, stores, tablets --------------------------------------------------


def staff_create(email: str = "sam@alice.example") -> User:
    """A member of the team with the staff role (the least a member may do)."""
    from tests.conftest import PASSWORD  # tests/conftest.py imports this module: read it late

    return User.objects.create_user(email, PASSWORD, full_name="Sam", role=Role.STAFF)


def form_create(name: str = "Main form", *, publish: bool = True) -> Form:
    """The default form, with a phone field and SMS consent; published unless told not to."""
    form = services.form_create(
        actor=None, name=name, is_default=True, definition=phone_definition()
    )
    if publish:
        services.form_publish(actor=None, form=form)
    return Form.objects.get(pk=form.pk)


def location_create(code: str = "paris", name: str = "Paris Rivoli") -> Location:
    return services.location_create(
        actor=None, name=name, code=code, country="FR", time_zone="Europe/Paris"
    )


def location_close(location: Location) -> None:
    """Closes a store as the portal does; its tablets learn it from the server."""
    services.location_update(
        actor=None,
        location=location,
        name=location.name,
        country=location.country,
        time_zone=location.time_zone,
        form=None,
        is_active=False,
    )


def device_create(location: Location, name: str = "Till 1") -> tuple[Device, str]:
    """A tablet paired to ``location``; returns it and its token."""
    _, code = services.pairing_code_create(actor=None, location=location, device_name=name)
    return services.device_pair(code=code)


def kiosk_create(
    *, code: str = "main", country: str = "FR", definition: dict[str, Any] | None = None
) -> Kiosk:
    """A store, the default form published (made with ``definition`` if there is none yet, by
    default ``full_definition()``) and a tablet paired to the store."""
    location = services.location_create(
        actor=None, name=f"Store {code}", code=code, country=country, time_zone="Europe/Paris"
    )
    form = Form.objects.filter(is_default=True).first() or services.form_create(
        actor=None, name="Main form", is_default=True, definition=definition or full_definition()
    )
    version = form.current_version or services.form_publish(actor=None, form=form)
    _, pairing = services.pairing_code_create(actor=None, location=location, device_name="Till 1")
    device, token = services.device_pair(code=pairing)
    return Kiosk(location, form, version, device, token)


# --- sign-ups ----------------------------------------------------------------------------------


def _published_version() -> FormVersion:
    form = Form.objects.get(is_default=True)
    assert form.current_version is not None
    return form.current_version


def submission_create(
    device: Device,
    email: str,
    *,
    received_at: datetime | None = None,
    sms: bool | None = None,
    first_name: str = "",
) -> Submission:
    """A sign-up through submission_create, on the published default form."""
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
        form_version_id=_published_version().pk,
        locale="en",
        captured_at=timezone.now() - timedelta(seconds=5),
        answers=answers,
        consents=consents,
    )
    if received_at is not None:
        Submission.objects.filter(pk=submission.pk).update(received_at=received_at)
        submission.refresh_from_db()
    return submission


def set_aside_create(
    device: Device, email: str, *, answers: dict[str, Any] | None = None
) -> Submission:
    """A sign-up stored with answers set aside: by default a phone number that is not one."""
    submission, _ = services.submission_create(
        device=device,
        submission_id=uuid.uuid4(),
        form_version_id=_published_version().pk,
        locale="en",
        captured_at=timezone.now() - timedelta(seconds=5),
        answers={"email": email, **(answers if answers is not None else {"phone": "12345"})},
        consents={"email": True},
    )
    assert submission.set_aside, "nothing was set aside"
    return submission


def rejection_create(
    device: Device, typed_email: str, *, first_name: str = "Ann"
) -> RejectedSubmission:
    """A sign-up refused whole for its email, recorded as the server records it."""
    version = _published_version()
    submission_id = uuid.uuid4()
    captured_at = timezone.now() - timedelta(minutes=3)
    payload = {
        "id": str(submission_id),
        "form_version": version.pk,
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
        fields={"email": [{"code": "invalid_email", "message": "Enter a valid email address."}]},
        payload=json.dumps(payload, ensure_ascii=True),
        captured_at=captured_at,
    )
    assert created
    return rejection


# --- what a tablet sends -----------------------------------------------------------------------


def submission_body(kiosk: Kiosk, **changes: Any) -> dict[str, Any]:
    """A sign-up as the tablet sends it (French, a phone, email consent); ``changes`` replace
    top-level keys."""
    payload: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "form_version": kiosk.version.pk,
        "locale": "fr",
        "captured_at": timezone.now().isoformat(),
        "answers": {
            "email": " Ann.Lee@Example.COM ",
            "first_name": "Ann",
            "phone": "06 12 34 56 78",
        },
        "consents": {"email": True, "sms": False},
    }
    payload.update(changes)
    return payload


def submission_post(client: Client, kiosk: Kiosk, payload: dict[str, Any]) -> Any:
    """Posts ``payload`` to the kiosk API with the kiosk's device token."""
    return client.post(
        "/api/kiosk/submissions", payload, content_type="application/json", headers=kiosk.headers
    )
