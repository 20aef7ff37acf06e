"""Tablets (``Device``): pairing codes, pairing, revoking, what they report."""

import secrets
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from customerinfo.core.accounts.models import User
from customerinfo.core.audit import audit_record, sha256
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditAction
from customerinfo.core.tenancy import current_tenant_id

from ..devices import device_forget
from ..metrics import tablet_unsent_record, tablets_unsent_forget
from ..models import (
    Device,
    Location,
    PairingCode,
)
from ..signals import tablets_changed

PAIRING_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen
PAIRING_LOOKUP_LENGTH, PAIRING_SECRET_LENGTH = 4, 6
PAIRING_TTL = timedelta(minutes=15)
PAIRING_MAX_ATTEMPTS = 5


def _random_code(length: int) -> str:
    return "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(length))


def pairing_code_create(
    *, actor: User | None, location: Location, device_name: str
) -> tuple[PairingCode, str]:
    """Returns the row and the code to show once, as ``ABCD-EFGHJK``."""
    if not device_name.strip():
        raise ServiceError(
            "validation_failed",
            "Name the tablet.",
            fields={"device_name": [{"code": "required", "message": "Name the tablet."}]},
        )
    now = timezone.now()
    PairingCode.objects.filter(expires_at__lt=now).delete()
    for _ in range(10):
        lookup, secret = _random_code(PAIRING_LOOKUP_LENGTH), _random_code(PAIRING_SECRET_LENGTH)
        try:
            with transaction.atomic():
                pairing = PairingCode.objects.create(
                    location=location,
                    device_name=device_name.strip(),
                    lookup=lookup,
                    secret_hash=sha256(secret),
                    expires_at=now + PAIRING_TTL,
                    created_by=actor,
                )
        except IntegrityError:
            continue  # that lookup is in use by another live code; draw again
        audit_record(
            actor=actor,
            action=AuditAction.DEVICE_PAIRING_CODE,
            target=location,
            new={"device_name": pairing.device_name, "expires_at": pairing.expires_at.isoformat()},
        )
        return pairing, f"{lookup}-{secret}"
    raise ServiceError("unavailable", "Could not make a pairing code; try again.", status_code=503)


def device_pair(*, code: str, previous_token: str = "") -> tuple[Device, str]:
    """Exchanges a pairing code for a device token (returned once, stored only hashed).

    ``previous_token`` is the tablet's revoked token, if it had one: the sign-ups that waited
    on it are sent under the new pairing, so the old tablet's report of them is cleared.
    """
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    lookup, secret = cleaned[:PAIRING_LOOKUP_LENGTH], cleaned[PAIRING_LOOKUP_LENGTH:]
    invalid = ServiceError("invalid_pairing_code", "This pairing code is not valid.")
    with transaction.atomic():
        pairing = PairingCode.objects.select_for_update().filter(lookup=lookup).first()
        if pairing is None:
            raise invalid
        if pairing.used_at or pairing.expires_at < timezone.now():
            raise ServiceError(
                "pairing_code_expired",
                "This pairing code was used or has expired; ask for a new one.",
            )
        if pairing.attempts >= PAIRING_MAX_ATTEMPTS:
            raise ServiceError(
                "pairing_code_locked", "Too many wrong tries; ask for a new pairing code."
            )
        if not secrets.compare_digest(pairing.secret_hash, sha256(secret)):
            pairing.attempts += 1
            pairing.save(update_fields=["attempts"])
            # Raised after the block, so the count commits: that is what makes it a limit.
            wrong = True
        else:
            wrong = False
            token = secrets.token_urlsafe(32)
            device = Device.objects.create(
                location=pairing.location,
                name=pairing.device_name,
                token_hash=sha256(token),
                token_prefix=token[:8],
            )
            pairing.used_at = timezone.now()
            pairing.save(update_fields=["used_at"])
            if previous_token:
                replaced = Device.objects.filter(
                    token_hash=sha256(previous_token), revoked_at__isnull=False
                )
                tablets_unsent_forget(
                    tenant_id=current_tenant_id(),
                    device_ids=list(replaced.values_list("pk", flat=True)),
                )
                replaced.update(
                    queue_depth=0,
                    held_count=0,
                    held_reasons={},
                    oldest_unsent_at=None,
                    replaced_by=device,
                )
            audit_record(
                actor=pairing.created_by,
                actor_label=f"device:{device.pk}",
                action=AuditAction.DEVICE_PAIR,
                target=device,
                new={"name": device.name, "location": device.location_id},
            )
    if wrong:
        raise invalid
    _tablets_changed()
    return device, token


def _tablets_changed() -> None:
    transaction.on_commit(lambda: tablets_changed.send(sender=Device))


def device_for_token(*, token: str) -> Device | None:
    # get(), not first(): first() would add the model's ordering, a join and a sort, to a
    # lookup by a unique key that every kiosk request makes.
    try:
        return Device.objects.select_related("location").get(
            token_hash=sha256(token), revoked_at__isnull=True
        )
    except Device.DoesNotExist:
        return None


def device_revoke(*, actor: User | None, device: Device) -> Device:
    if device.revoked_at is None:
        # Processes that remember the tablet find it revoked in the sign-up statement itself
        # (signup.devices); this process forgets it at once all the same.
        device_forget(token_hash=device.token_hash)
        device.revoked_at = timezone.now()
        device.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action=AuditAction.DEVICE_REVOKE,
            target=device,
            old={"revoked": False},
            new={"revoked": True},
        )
        _tablets_changed()
    return device


#: Bounds of what a tablet reports of its queue (the API refuses more).
MAX_QUEUE_REPORT = 1_000_000
MAX_HELD_REASONS = 20


def device_heartbeat(
    *,
    device: Device,
    app_version: str,
    queue_depth: int,
    oldest_unsent_at: datetime | None,
    held: int = 0,
    held_reasons: dict[str, int] | None = None,
) -> Device:
    """Records a tablet's report of itself. A revoked tablet's report is recorded too: it is how
    the portal learns that sign-ups still wait on it, until a new pairing takes its queue over."""
    now = timezone.now()
    if device.replaced_by_id is not None:
        return device
    waited = device.queue_depth + device.held_count > 0
    if device.revoked_at is None:
        device.last_seen_at = now
    device.app_version = app_version[:40]
    device.queue_depth = min(max(queue_depth, 0), MAX_QUEUE_REPORT)
    device.held_count = min(max(held, 0), MAX_QUEUE_REPORT)
    reasons = sorted((held_reasons or {}).items(), key=lambda item: -item[1])
    device.held_reasons = dict(reasons[:MAX_HELD_REASONS]) if device.held_count else {}
    waiting = device.queue_depth + device.held_count
    device.oldest_unsent_at = oldest_unsent_at if waiting else None
    device.queue_reported_at = now
    device.save(
        update_fields=[
            "last_seen_at",
            "app_version",
            "queue_depth",
            "held_count",
            "held_reasons",
            "oldest_unsent_at",
            "queue_reported_at",
        ]
    )
    # The /metrics summary (signup.metrics); an idle tablet that stays idle costs it nothing.
    if waiting or waited:
        tablet_unsent_record(
            tenant_id=current_tenant_id(),
            device_id=device.pk,
            waiting=waiting,
            oldest_unsent_at=device.oldest_unsent_at,
        )
    return device


def device_for_report(*, token: str) -> Device | None:
    """The token's tablet, revoked or not: only for recording what it reports."""
    return Device.objects.select_related("location").filter(token_hash=sha256(token)).first()
