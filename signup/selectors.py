"""Reads of the sign-up app."""

from copy import deepcopy
from typing import Any

from customerinfo.errors import ServiceError

from .models import Form, FormVersion, Location


def form_for_location(*, location: Location) -> Form | None:
    if location.form_id:
        return location.form
    return Form.objects.filter(is_default=True).first()


def current_version(*, location: Location) -> FormVersion | None:
    form = form_for_location(location=location)
    return form.current_version if form else None


def kiosk_form(*, location: Location) -> dict[str, Any]:
    """The published definition a tablet renders, with the store's text overrides applied."""
    version = current_version(location=location)
    if version is None:
        raise ServiceError(
            "no_published_form",
            "No form is published for this store yet; publish one in the portal.",
            status_code=404,
        )
    definition = deepcopy(version.definition)
    for name, texts in (location.overrides or {}).get("texts", {}).items():
        definition.setdefault("texts", {}).setdefault(name, {}).update(texts)
    return {
        "version": version.pk,
        "number": version.number,
        "definition": definition,
        "location": {"id": location.pk, "name": location.name, "country": location.country},
    }
