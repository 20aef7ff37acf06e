"""Destinations: create, update, test, pause, resume, webhook secret rotation, owners' alert.

A pause holds the destination's pending deliveries without spending their attempts; a resume
puts them back in the outbox, spread out (``replay.deliveries_reschedule``).
"""

import logging
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customerinfo.core.accounts.models import Role, User
from customerinfo.core.audit import audit_record
from customerinfo.core.errors import ServiceError
from customerinfo.core.i18n import in_language_of
from customerinfo.core.models import AuditAction
from customerinfo.core.tenancy import current_tenant_id
from outbox.models import Delivery, DeliveryStatus
from signup.models import Form, Location
from signup.selectors import notifications as notification_selectors
from tenants.models import Tenant

from .. import limits
from ..crypto import credentials_decrypt, credentials_encrypt
from ..endpoints import settings_normalise
from ..failures import probe
from ..http import http_client
from ..models import Destination, DestinationKind, DestinationState
from ..paused import destination_paused_record
from ..providers import PROVIDERS, Provider, Result, provider_class
from ..providers.webhook import secret_generate
from .replay import deliveries_reschedule

logger = logging.getLogger(__name__)

#: How long the previous webhook secret keeps signing after a rotation.
SECRET_ROTATION_GRACE = timedelta(hours=24)
#: Who the audit log names when the system, not a person, paused a destination.
SYSTEM = "system:crm"


def destination_scope(destination: Destination) -> str:
    """Redis scope of one destination's rate limit, breaker and cooldown."""
    return limits.destination_scope(tenant_id=current_tenant_id(), destination_id=destination.pk)


def _destination_check(
    *, kind: str, name: str, settings_: dict[str, Any], credentials: dict[str, Any]
) -> dict[str, Any]:
    """The settings to store (every URL normalised), or ServiceError naming each bad field."""
    if kind not in DestinationKind.values or kind not in PROVIDERS:
        raise ServiceError(
            "validation_failed",
            _("Unknown kind of destination."),
            fields={"kind": [{"code": "invalid", "message": _("Choose one of the listed CRMs.")}]},
        )
    cls = provider_class(kind)
    settings_, url_errors = settings_normalise(settings_, cls.url_settings)
    errors = cls.configuration_errors(settings=settings_, credentials=credentials)
    errors.update(url_errors)
    if not name.strip():
        errors["name"] = [{"code": "required", "message": _("Give the destination a name.")}]
    if errors:
        raise ServiceError(
            "validation_failed", _("The destination is not complete."), fields=errors
        )
    return settings_


def destination_view(destination: Destination) -> dict[str, Any]:
    """What the audit log keeps of a destination: everything but its secrets."""
    return {
        "name": destination.name,
        "kind": destination.kind,
        "settings": destination.settings,
        "field_mapping": destination.field_mapping,
        "enabled": destination.enabled,
        "state": destination.state,
        "forms": sorted(destination.forms.values_list("pk", flat=True)),
        "locations": sorted(destination.locations.values_list("pk", flat=True)),
    }


def _mapping_check(field_mapping: dict[str, Any]) -> None:
    bad = [
        key
        for key, value in field_mapping.items()
        if not isinstance(key, str) or not isinstance(value, str) or not value.strip()
    ]
    if bad:
        raise ServiceError(
            "validation_failed",
            _("Each mapped form field needs a CRM property name."),
            fields={"field_mapping": [{"code": "invalid", "message": ", ".join(map(str, bad))}]},
        )


@transaction.atomic
def destination_create(
    *,
    actor: User | None,
    name: str,
    kind: str,
    settings: dict[str, Any],
    credentials: dict[str, Any],
    field_mapping: dict[str, str] | None = None,
    forms: Iterable[Form] = (),
    locations: Iterable[Location] = (),
    enabled: bool = True,
) -> Destination:
    field_mapping = field_mapping or {}
    settings = _destination_check(kind=kind, name=name, settings_=settings, credentials=credentials)
    _mapping_check(field_mapping)
    destination = Destination.objects.create(
        name=name.strip(),
        kind=kind,
        settings=settings,
        credentials=credentials_encrypt(credentials),
        field_mapping=field_mapping,
        enabled=enabled,
    )
    destination.forms.set(forms)
    destination.locations.set(locations)
    audit_record(
        actor=actor,
        action=AuditAction.DESTINATION_CREATE,
        target=destination,
        new=destination_view(destination),
    )
    return destination


@transaction.atomic
def destination_update(
    *,
    actor: User | None,
    destination: Destination,
    name: str,
    settings: dict[str, Any],
    credentials: dict[str, Any],
    field_mapping: dict[str, str],
    forms: Iterable[Form],
    locations: Iterable[Location],
    enabled: bool,
) -> Destination:
    """Credentials left empty keep their stored value: secrets are never shown back to edit."""
    old = destination_view(destination)
    stored = credentials_decrypt(destination.credentials)
    merged = {**stored, **{key: value for key, value in credentials.items() if value}}
    settings = _destination_check(
        kind=destination.kind, name=name, settings_=settings, credentials=merged
    )
    _mapping_check(field_mapping)
    destination.name = name.strip()
    destination.settings = settings
    destination.credentials = credentials_encrypt(merged)
    destination.field_mapping = field_mapping
    destination.enabled = enabled
    destination.save()
    destination.forms.set(forms)
    destination.locations.set(locations)
    new = destination_view(destination)
    if merged != stored:
        new["credentials"] = "changed"
    audit_record(
        actor=actor, action=AuditAction.DESTINATION_UPDATE, target=destination, old=old, new=new
    )
    return destination


def destination_provider(*, destination: Destination, client: Any = None) -> Provider:
    cls = provider_class(destination.kind)
    return cls(
        settings=destination.settings,
        credentials=credentials_decrypt(destination.credentials),
        client=client or http_client(),
    )


def destination_test(*, actor: User | None, destination: Destination) -> Result:
    """The portal's "test connection": one harmless authenticated call, its answer shown as is.

    Whatever the destination holds (a URL saved before URLs were checked, say), the answer is a
    Result with a reason, never an exception: ``probe`` is the same boundary deliveries use.
    """
    with http_client() as client:
        result = probe(
            lambda: destination_provider(destination=destination, client=client).test_connection()
        )
    audit_record(
        actor=actor,
        action=AuditAction.DESTINATION_TEST,
        target=destination,
        new={"verdict": result.verdict.value, "status_code": result.status_code},
    )
    return result


@transaction.atomic
def webhook_secret_rotate(*, actor: User | None, destination: Destination) -> str:
    """A new signing secret; the old one keeps signing too for a day, so receivers can switch."""
    if destination.kind != DestinationKind.WEBHOOK:
        raise ServiceError("not_a_webhook", _("Only webhook destinations have a signing secret."))
    credentials = credentials_decrypt(destination.credentials)
    secret = secret_generate()
    credentials["previous_secret"] = credentials.get("secret", "")
    credentials["previous_valid_until"] = time.time() + SECRET_ROTATION_GRACE.total_seconds()
    credentials["secret"] = secret
    destination.credentials = credentials_encrypt(credentials)
    destination.save(update_fields=["credentials", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.DESTINATION_ROTATE_SECRET,
        target=destination,
        new={"rotated": True},
    )
    return secret


def _owners_alert(*, destination: Destination, reason: str) -> None:
    tenant = Tenant.objects.get(pk=current_tenant_id())
    # Owners who kept this alert (it is on until they turn it off on their Notifications page).
    chosen = notification_selectors.recipients(choice="destination_paused", roles=[Role.OWNER])
    owners = [owner for owner, _preference in chosen if owner.email]
    if not owners:
        return

    def deliver_mail() -> None:
        for owner in owners:
            # Each owner reads it in their own language (their portal's).
            with in_language_of(owner):
                subject = _("CustomerInfo: sign-ups to %(name)s are on hold") % {
                    "name": destination.name
                }
                body = _owners_alert_body(tenant=tenant, destination=destination, reason=reason)
                try:
                    send_mail(subject, body, None, [owner.email])
                except Exception:
                    # The pause is already recorded and shown in the portal; a mail failure
                    # must not undo it or make the worker retry the delivery.
                    logger.exception("could not send the paused-destination alert")

    transaction.on_commit(deliver_mail)


def _owners_alert_body(*, tenant: Tenant, destination: Destination, reason: str) -> str:
    values = {"shop": tenant.name, "name": destination.name}
    paused = _(
        "Sign-ups of %(shop)s can no longer be delivered to %(name)s (%(kind)s), so we paused "
        "it and are keeping every sign-up safe until it is fixed."
    ) % {**values, "kind": destination.get_kind_display()}
    said = _("What the CRM said: %(reason)s") % {"reason": reason}
    fix = _(
        "Fix the credentials or the list in the CRM settings of your portal, then press "
        "Resume: the held sign-ups will be sent again, gradually."
    )
    return f"{paused}\n\n{said}\n\n{fix}"


@transaction.atomic
def destination_pause(
    *, destination: Destination, reason: str, disable: bool = False, actor: User | None = None
) -> None:
    """Stops sending and holds the destination's deliveries without spending their attempts.

    Rows a worker is sending right now are held too: clearing their lease token tells that
    worker its answer no longer belongs in them (``sending``), and the resume sends them again.
    """
    destination = Destination.objects.select_for_update().get(pk=destination.pk)
    if destination.state == DestinationState.PAUSED and not disable:
        return
    old = {"state": destination.state, "enabled": destination.enabled}
    destination.state = DestinationState.PAUSED
    destination.paused_reason = reason
    destination.paused_at = timezone.now()
    if disable:
        destination.enabled = False
    destination.save()
    Delivery.objects.filter(
        tenant_id=current_tenant_id(),
        destination_id=destination.pk,
        status=DeliveryStatus.PENDING,
    ).update(
        status=DeliveryStatus.HELD,
        lease_expires_at=None,
        lease_token=None,
        updated_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        actor_label="" if actor else SYSTEM,
        action=AuditAction.DESTINATION_PAUSE,
        target=destination,
        old=old,
        new={"state": destination.state, "enabled": destination.enabled, "reason": reason},
    )
    destination_paused_record(
        tenant_id=current_tenant_id(),
        destination_id=destination.pk,
        paused_at=destination.paused_at,
    )
    if actor is None:
        _owners_alert(destination=destination, reason=reason)


@transaction.atomic
def destination_resume(*, actor: User | None, destination: Destination) -> int:
    """Active again; its held deliveries are replayed gradually. Returns how many."""
    destination = Destination.objects.select_for_update().get(pk=destination.pk)
    old = {"state": destination.state, "enabled": destination.enabled}
    destination.state = DestinationState.ACTIVE
    destination.paused_reason = ""
    destination.paused_at = None
    destination.enabled = True
    destination.save()
    destination_paused_record(
        tenant_id=current_tenant_id(), destination_id=destination.pk, paused_at=None
    )
    limits.breaker_record(scope=destination_scope(destination), success=True)
    count = deliveries_reschedule(destination=destination, statuses=[DeliveryStatus.HELD])
    audit_record(
        actor=actor,
        action=AuditAction.DESTINATION_RESUME,
        target=destination,
        old=old,
        new={"state": destination.state, "replayed": count},
    )
    return count
