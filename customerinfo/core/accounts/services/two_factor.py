"""Two-step sign-in for owners and managers: a code from an authenticator app (TOTP, through
django-otp), with one-time backup codes for a lost phone.

Enrolment makes an unconfirmed device; it counts only once the person has typed a code from
it, so a half-finished set-up never locks anyone out. Turning it off asks for the password: a
session left open on a shared till must not be enough to remove the second step.
"""

from base64 import b32encode

import qrcode
import qrcode.image.svg
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from customerinfo.core.audit import audit_record
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditAction

from ..models import User
from ..selectors import two_factor_enabled

BACKUP_CODES = 10
DEVICE_NAME = "Authenticator app"


def two_factor_setup_device(*, user: User) -> TOTPDevice:
    """The device being set up: the unconfirmed one, or a new one with a fresh secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def totp_secret(device: TOTPDevice) -> str:
    """The secret as people type it into an app: base32, in groups of four."""
    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def totp_qr_svg(device: TOTPDevice) -> str:
    """The set-up link as an inline SVG QR code, drawn here: no image service sees the secret."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    svg: str = image.to_string(encoding="unicode")
    return svg


def _backup_codes_replace(*, user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def two_factor_confirm(*, user: User, code: str) -> list[str]:
    """Turns two-step sign-in on once ``code`` matches the app; returns the backup codes."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
        if device is None:
            raise ServiceError("no_setup", _("Start the set-up again."), status_code=409)
        if not device.verify_token(code.replace(" ", "")):
            raise ServiceError(
                "wrong_code",
                _("That code does not match."),
                fields={"code": [{"code": "wrong_code", "message": _wrong_code()}]},
            )
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        codes = _backup_codes_replace(user=user)
        audit_record(
            actor=user,
            action=AuditAction.MEMBER_TWO_FACTOR_ON,
            target=user,
            old={"two_factor": False},
            new={"two_factor": True},
        )
    return codes


def _wrong_code() -> str:
    return _(
        "That code does not match. Check the time on your phone, then type the code the app "
        "shows now."
    )


def _check_password(user: User, password: str) -> None:
    if not user.check_password(password):
        raise ServiceError(
            "wrong_password",
            _("That is not your password."),
            fields={"password": [{"code": "wrong_password", "message": _("Not your password.")}]},
        )


def backup_codes_renew(*, user: User, password: str) -> list[str]:
    """New backup codes; the old ones stop working."""
    _check_password(user, password)
    if not two_factor_enabled(user):
        raise ServiceError("not_enabled", _("Two-step sign-in is off."), status_code=409)
    with transaction.atomic():
        return _backup_codes_replace(user=user)


def two_factor_disable(*, user: User, password: str) -> None:
    _check_password(user, password)
    with transaction.atomic():
        removed, _ = TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        if removed:
            audit_record(
                actor=user,
                action=AuditAction.MEMBER_TWO_FACTOR_OFF,
                target=user,
                old={"two_factor": True},
                new={"two_factor": False},
            )


def two_factor_verify(*, user: User, code: str) -> bool:
    """True if ``code`` is the app's current code or an unused backup code (then spent).

    Each device counts its failures and makes the next try wait longer (django-otp's
    throttling), so guessing six digits is out of reach.
    """
    code = code.replace(" ", "").strip()
    if not code:
        return False
    with transaction.atomic():
        devices: list[TOTPDevice | StaticDevice] = [
            *TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True),
            *StaticDevice.objects.select_for_update().filter(user=user, confirmed=True),
        ]
        return any(device.verify_token(code) for device in devices)
