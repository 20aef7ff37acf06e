"""Kiosk authentication (``Authorization: Device <token>``) and its per-device rate limit."""

import ipaddress
from dataclasses import dataclass
from typing import Any, ClassVar

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

from customerinfo.core.addresses import client_address

from .devices import device_count, device_known, device_remember
from .models import Device
from .services import DEVICE_REFUSED, device_for_report, device_for_token, sha256

KEYWORD = "Device"


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates a paired tablet; ``request.auth`` is its Device, there is no user.

    A view with ``revoked_tablets_report = True`` (the heartbeat) also gets a revoked tablet, so
    that what still waits on it is recorded; that view refuses it itself after recording.
    """

    failure_message = DEVICE_REFUSED

    def authenticate(self, request: Request) -> tuple[Any, Device] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        scheme, _, token = header.partition(" ")
        if scheme != KEYWORD:
            return None
        view = (request.parser_context or {}).get("view")
        if getattr(view, "revoked_tablets_report", False):
            device = device_for_report(token=token.strip())
        else:
            device = device_for_token(token=token.strip())
        if device is None:
            raise exceptions.AuthenticationFailed(self.failure_message)
        return None, device

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class IsPairedDevice(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Device)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return self.has_permission(request, view)


class DeviceRateThrottle(throttling.BaseThrottle):
    """Per tablet, shared by all web processes: a fixed-window counter in Redis (signup.devices).

    DRF's SimpleRateThrottle keeps every request's timestamp and rewrites the list on each call
    (two round trips and a value that grows with the rate); a counter does the same job for a
    limit this coarse. It is keyed by the token's hash, so the submission fast path
    (``kiosk_caller``) counts against the same limit before it knows the device.
    """

    THROTTLE_RATES: ClassVar[dict[str, str]] = {}
    scope = "device"

    def __init__(self) -> None:
        self.retry_after = 0

    def allow_request(self, request: Request, view: Any) -> bool:
        device = request.auth
        if not isinstance(device, Device):
            return True
        limit, window = device_rate()
        seen = device_count(token_hash=device.token_hash, limit=limit, window=window)
        if seen.throttled:
            self.retry_after = seen.retry_after
            return False
        return True

    def wait(self) -> float | None:
        return max(self.retry_after, 1)


def device_rate() -> tuple[int, int]:
    """(requests, seconds) allowed per tablet."""
    rates = DeviceRateThrottle.THROTTLE_RATES or api_settings.DEFAULT_THROTTLE_RATES
    return parse_rate(str(rates[DeviceRateThrottle.scope]))


def parse_rate(rate: str) -> tuple[int, int]:
    """``"120/min"`` → (120, 60): DRF's rate notation."""
    count, _, period = rate.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]
    return int(count), seconds


@dataclass(frozen=True)
class KioskCaller:
    """A kiosk request's tablet (``None``: unknown or revoked token) and its rate limit."""

    device: Device | None
    throttled: bool
    retry_after: int
    #: Whether the device came from this process's memory rather than the database.
    remembered: bool = False


def kiosk_caller(*, token: str) -> KioskCaller:
    """The tablet of a token and whether it is over its limit. Usually answered by the process
    alone (signup.devices); a token it does not know is looked up in PostgreSQL."""
    token_hash = sha256(token)
    limit, window = device_rate()
    seen = device_count(token_hash=token_hash, limit=limit, window=window)
    device = device_known(token_hash=token_hash)
    remembered = device is not None
    if device is None:
        device = kiosk_device_read(token=token)
    return KioskCaller(
        device=device,
        throttled=seen.throttled,
        retry_after=max(seen.retry_after, 1),
        remembered=remembered,
    )


def kiosk_device_read(*, token: str) -> Device | None:
    """The token's tablet from the database, remembered for the next sign-ups if paired."""
    device = device_for_token(token=token)
    if device is not None:
        device_remember(device=device)
    return device


class PairingRateThrottle(throttling.AnonRateThrottle):
    """Pairing attempts per client address: guessing codes must be slow as well as futile.

    The address is ``client_address``'s, not DRF's (which believes any X-Forwarded-For, so a
    guesser sending a new one each time was never limited).
    """

    scope = "pairing"

    def get_ident(self, request: Request) -> str:
        return pairing_ident(client_address(request))


def pairing_ident(address: str) -> str:
    """What pairing attempts are counted by: the address, or an IPv6 address's /64.

    One IPv6 subscriber is given a whole /64 at the least and can send from any address in it;
    counted per address, it would have 2^64 fresh limits.
    """
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
    return address


class DeviceTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    """Documents the device token in the OpenAPI schema."""

    target_class = "signup.authentication.DeviceTokenAuthentication"
    name = "deviceToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Device <token>`, the token received when the tablet was paired.",
        }
