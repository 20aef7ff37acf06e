"""Stores (``Location``): creating, editing, closing."""

from typing import Any
from zoneinfo import available_timezones

from django.utils import timezone

from customerinfo.core.accounts.models import User
from customerinfo.core.audit import audit_record
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditAction

from ..definitions import LANGUAGES
from ..models import (
    Form,
    Location,
)


def _location_check(
    *, name: str, code: str, country: str, time_zone: str, language: str = ""
) -> None:
    fields: dict[str, list[dict[str, str]]] = {}
    if language and language not in LANGUAGES:
        fields["language"] = [{"code": "invalid", "message": f"One of {', '.join(LANGUAGES)}."}]
    if not name.strip():
        fields["name"] = [{"code": "required", "message": "A store needs a name."}]
    if len(country) != 2 or not country.isalpha():
        fields["country"] = [{"code": "invalid", "message": "Use a two-letter country code."}]
    if time_zone not in available_timezones():
        fields["time_zone"] = [{"code": "invalid", "message": "Unknown time zone."}]
    if not code or not code.replace("-", "").isalnum():
        fields["code"] = [{"code": "invalid", "message": "Letters, digits and hyphens only."}]
    if fields:
        raise ServiceError("validation_failed", "The store has mistakes.", fields=fields)


def location_create(
    *,
    actor: User | None,
    name: str,
    code: str,
    country: str,
    time_zone: str,
    form: Form | None = None,
    language: str = "",
) -> Location:
    code, country = code.strip().lower(), country.strip().upper()
    _location_check(name=name, code=code, country=country, time_zone=time_zone, language=language)
    if Location.objects.filter(code=code).exists():
        raise ServiceError(
            "duplicate",
            "Another store has this code.",
            fields={"code": [{"code": "duplicate", "message": "Already used."}]},
        )
    location = Location.objects.create(
        name=name.strip(),
        code=code,
        country=country,
        time_zone=time_zone,
        form=form,
        language=language,
    )
    audit_record(
        actor=actor,
        action=AuditAction.LOCATION_CREATE,
        target=location,
        new=_location_state(location),
    )
    return location


def _location_state(location: Location) -> dict[str, Any]:
    return {
        "name": location.name,
        "code": location.code,
        "country": location.country,
        "time_zone": location.time_zone,
        "form": location.form_id,
        "overrides": location.overrides,
        "language": location.language,
        "is_active": location.is_active,
    }


def location_update(
    *,
    actor: User | None,
    location: Location,
    name: str,
    country: str,
    time_zone: str,
    form: Form | None,
    overrides: dict[str, Any] | None = None,
    is_active: bool = True,
    language: str | None = None,
) -> Location:
    country = country.strip().upper()
    language = location.language if language is None else language
    _location_check(
        name=name, code=location.code, country=country, time_zone=time_zone, language=language
    )
    old = _location_state(location)
    location.name, location.country, location.time_zone = name.strip(), country, time_zone
    location.form, location.language = form, language
    if location.is_active and not is_active:
        # From now on its tablets take no sign-up; those captured before still arrive.
        location.closed_at = timezone.now()
    elif is_active:
        location.closed_at = None
    location.is_active = is_active
    if overrides is not None:
        location.overrides = overrides
    # Tablets remembered with the old country are refused by the sign-up statement and read
    # again (signup.devices): nothing to forget here.
    location.save()
    audit_record(
        actor=actor,
        action=AuditAction.LOCATION_UPDATE,
        target=location,
        old=old,
        new=_location_state(location),
    )
    return location
