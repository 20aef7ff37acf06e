"""Sign-up fixtures built through the services, so they hold what production would hold.

Call these inside ``tenant_context(tenant)``.
"""

from dataclasses import dataclass
from typing import Any

from signup import services
from signup.definitions import default_definition
from signup.models import Device, Form, FormVersion, Location


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


def kiosk_create(
    *, code: str = "main", country: str = "FR", definition: dict[str, Any] | None = None
) -> Kiosk:
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
