"""Kiosk authentication (``Authorization: Device <token>``) and its per-device rate limit."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from .models import Device
from .services import device_for_token

KEYWORD = "Device"


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates a paired tablet; ``request.auth`` is its Device, there is no user."""

    def authenticate(self, request: Request) -> tuple[Any, Device] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        scheme, _, token = header.partition(" ")
        if scheme != KEYWORD:
            return None
        device = device_for_token(token=token.strip())
        if device is None:
            raise exceptions.AuthenticationFailed(
                "This tablet is not paired or was revoked; pair it again."
            )
        return None, device

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class IsPairedDevice(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, Device)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return self.has_permission(request, view)


class DeviceRateThrottle(throttling.SimpleRateThrottle):
    """Per tablet, shared by all web processes through the Redis cache (keys carry the schema)."""

    scope = "device"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, Device):
            return None
        return f"throttle:device:{request.auth.pk}"


class PairingRateThrottle(throttling.AnonRateThrottle):
    """Pairing attempts per client address: guessing codes must be slow as well as futile."""

    scope = "pairing"


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
