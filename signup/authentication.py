"""Kiosk authentication (``Authorization: Device <token>``) and its per-device rate limit."""

import time
from functools import lru_cache
from typing import Any, ClassVar

import redis
from django.conf import settings
from django.db import connection
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request
from rest_framework.settings import api_settings

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


class DeviceRateThrottle(throttling.BaseThrottle):
    """Per tablet, shared by all web processes: a fixed-window counter in Redis.

    DRF's SimpleRateThrottle keeps every request's timestamp and rewrites the list on each call
    (two round trips and a value that grows with the rate); one pipelined SET NX + INCR per
    request does the same job for a limit this coarse.
    """

    THROTTLE_RATES: ClassVar[dict[str, str]] = {}
    scope = "device"

    def __init__(self) -> None:
        rates = self.THROTTLE_RATES or api_settings.DEFAULT_THROTTLE_RATES
        self.limit, self.window = parse_rate(str(rates[self.scope]))
        self.retry_after = 0

    def allow_request(self, request: Request, view: Any) -> bool:
        device = request.auth
        if not isinstance(device, Device):
            return True
        now = int(time.time())
        window_start = now - now % self.window
        prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
        schema = connection.schema_name  # type: ignore[attr-defined]
        key = f"{prefix}:throttle:{schema}:device:{device.pk}:{window_start}"
        pipeline = redis_client().pipeline(transaction=False)
        pipeline.set(key, 0, ex=self.window, nx=True)
        pipeline.incr(key)
        _, count = pipeline.execute()
        if int(count) > self.limit:
            self.retry_after = window_start + self.window - now
            return False
        return True

    def wait(self) -> float | None:
        return max(self.retry_after, 1)


def parse_rate(rate: str) -> tuple[int, int]:
    """``"120/min"`` → (120, 60): DRF's rate notation."""
    count, _, period = rate.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]
    return int(count), seconds


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    # One connection pool per process, reused by every request.
    return redis.Redis.from_url(settings.REDIS_URL)


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
