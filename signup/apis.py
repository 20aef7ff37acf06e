"""Kiosk API: pair, fetch the published form, submit, heartbeat. One thin class per operation.

Submitting is the one hot path (every shopper, every tablet, and every queued sign-up when a
tablet comes back online), so a well-formed submission skips DRF's per-request machinery; see
``SubmissionApi.as_view``.
"""

import functools
import json
import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from customerinfo.errors import ServiceError, error_body

from . import selectors, services
from .authentication import (
    KEYWORD,
    DeviceRateThrottle,
    DeviceTokenAuthentication,
    IsPairedDevice,
    PairingRateThrottle,
    kiosk_caller,
    kiosk_device_read,
)
from .devices import device_forget
from .models import Device, Submission

if TYPE_CHECKING:
    from rest_framework.views import AsView, GenericView

ERROR = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(required=False),
            },
        )
    },
)


def _device(request: Request) -> Device:
    device = request.auth
    assert isinstance(device, Device)  # noqa: S101 - guaranteed by IsPairedDevice
    return device


class KioskAPIView(APIView):
    authentication_classes = [DeviceTokenAuthentication]
    permission_classes = [IsPairedDevice]
    throttle_classes = [DeviceRateThrottle]


class PairApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    throttle_classes = [PairingRateThrottle]

    class PairInputSerializer(serializers.Serializer[Any]):
        code = serializers.CharField(max_length=20)

    class PairOutputSerializer(serializers.Serializer[Any]):
        device_token = serializers.CharField()
        device = inline_serializer(
            "PairedDevice", {"id": serializers.IntegerField(), "name": serializers.CharField()}
        )
        location = inline_serializer(
            "PairedLocation", {"id": serializers.IntegerField(), "name": serializers.CharField()}
        )

    @extend_schema(
        request=PairInputSerializer,
        responses={201: PairOutputSerializer, 400: ERROR, 429: ERROR},
        summary="Exchange a one-time pairing code for a device token",
    )
    def post(self, request: Request) -> Response:
        data = self.PairInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device, token = services.device_pair(code=data.validated_data["code"])
        body = {
            "device_token": token,
            "device": {"id": device.pk, "name": device.name},
            "location": {"id": device.location.pk, "name": device.location.name},
        }
        return Response(body, status=status.HTTP_201_CREATED)


class FormApi(KioskAPIView):
    @extend_schema(
        responses={200: OpenApiResponse(description="The published form"), 404: ERROR},
        summary="The published form this tablet shows, with its store's overrides",
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.kiosk_form(location=_device(request).location))


class SubmissionApi(KioskAPIView):
    class SubmissionInputSerializer(serializers.Serializer[Any]):
        id = serializers.UUIDField()
        form_version = serializers.IntegerField()
        locale = serializers.CharField(max_length=8)
        captured_at = serializers.DateTimeField()
        answers = serializers.JSONField()
        consents = serializers.JSONField(required=False, default=dict)

    class SubmissionOutputSerializer(serializers.Serializer[Any]):
        id = serializers.UUIDField()
        received_at = serializers.DateTimeField()
        duplicate = serializers.BooleanField()

    @extend_schema(
        request=SubmissionInputSerializer,
        responses={
            201: SubmissionOutputSerializer,
            200: SubmissionOutputSerializer,
            400: ERROR,
            401: ERROR,
            409: ERROR,
            429: ERROR,
        },
        summary="Store a sign-up (idempotent on the tablet-made id)",
    )
    def post(self, request: Request) -> Response:
        data = self.SubmissionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        submission, created = services.submission_create(
            device=_device(request),
            submission_id=values["id"],
            form_version_id=values["form_version"],
            locale=values["locale"],
            captured_at=values["captured_at"],
            answers=values["answers"],
            consents=values["consents"],
        )
        body = {
            "id": str(submission.pk),
            "received_at": submission.received_at.isoformat(),
            "duplicate": not created,
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @classmethod
    def as_view(cls, **initkwargs: Any) -> "AsView[GenericView]":
        """The DRF view (documented by the schema), behind a fast path for the common case.

        DRF costs a sign-up more than storing it: a deep copy of the serializer's fields,
        content negotiation, three policy objects and a Request wrapper per call. A POST whose
        headers and body are plainly what a tablet sends is answered by ``_submission_fast``
        with the same service, answers and error codes; anything else (other methods, other
        media types, a body that would fail the serializer) goes to DRF untouched, before any
        side effect, so its error responses stay DRF's own.
        """
        documented = super().as_view(**initkwargs)

        def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            response = _submission_fast(request)
            return response if response is not None else documented(request, *args, **kwargs)

        # Carries over what drf-spectacular and Django read off a view (cls, csrf_exempt, ...).
        return cast("AsView[GenericView]", functools.update_wrapper(view, documented))


class HeartbeatApi(KioskAPIView):
    class HeartbeatInputSerializer(serializers.Serializer[Any]):
        app_version = serializers.CharField(max_length=40, allow_blank=True, default="")
        queue_depth = serializers.IntegerField(min_value=0, default=0)
        oldest_unsent_at = serializers.DateTimeField(required=False, allow_null=True)

    class HeartbeatOutputSerializer(serializers.Serializer[Any]):
        server_time = serializers.DateTimeField()
        form_version = serializers.IntegerField(allow_null=True)

    @extend_schema(
        request=HeartbeatInputSerializer,
        responses={200: HeartbeatOutputSerializer, 401: ERROR},
        summary="Report the tablet's state; learn whether a new form version is out",
    )
    def post(self, request: Request) -> Response:
        data = self.HeartbeatInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device = services.device_heartbeat(
            device=_device(request),
            app_version=data.validated_data["app_version"],
            queue_depth=data.validated_data["queue_depth"],
            oldest_unsent_at=data.validated_data.get("oldest_unsent_at"),
        )
        version = selectors.current_version(location=device.location)
        return Response(
            {
                "server_time": device.last_seen_at,
                "form_version": version.pk if version else None,
            }
        )


# --- the submission fast path ------------------------------------------------------------------

#: Locales the serializer would accept unchanged (CharField, max 8, trimmed, no blank).
_PLAIN_LOCALE = re.compile(r"[A-Za-z0-9_-]{1,8}")
#: Parses captured_at exactly as the serializer's field does (ISO 8601, made aware in UTC).
_CAPTURED_AT = serializers.DateTimeField()
_ALLOW = ", ".join(method.upper() for method in ("post", "options"))


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity: DRF's strict JSON parser refuses them too


def _submission_values(data: Any) -> dict[str, Any] | None:
    """The validated values, if the serializer would accept ``data`` as is; else None."""
    if type(data) is not dict:
        return None
    try:
        raw_id, version, locale = data["id"], data["form_version"], data["locale"]
        captured, answers = data["captured_at"], data["answers"]
    except KeyError:
        return None
    consents = data.get("consents", {})
    if (
        type(raw_id) is not str
        or type(version) is not int
        or type(locale) is not str
        or type(captured) is not str
        or answers is None
        or consents is None
        or not _PLAIN_LOCALE.fullmatch(locale)
    ):
        return None
    try:
        submission_id = uuid.UUID(raw_id)
        captured_at: datetime = _CAPTURED_AT.to_internal_value(captured)
    except (ValueError, exceptions.ValidationError):
        return None
    return {
        "submission_id": submission_id,
        "form_version_id": version,
        "locale": locale,
        "captured_at": captured_at,
        "answers": answers,
        "consents": consents,
    }


def _json(
    body: dict[str, Any], status_code: int, headers: dict[str, str] | None = None
) -> HttpResponse:
    # As DRF's JSONRenderer writes it: compact, UTF-8, line separators escaped.
    text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return HttpResponse(
        text.encode(),
        status=status_code,
        content_type="application/json",
        headers={"Allow": _ALLOW, **(headers or {})},
    )


def _length_ok(meta: dict[str, Any]) -> bool:
    """Whether Django will hand over the body: past its limit ``request.body`` raises, where
    DRF would have streamed it."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        return limit is None or int(meta.get("CONTENT_LENGTH") or 0) <= limit
    except ValueError:
        return False


def _submission_fast(request: HttpRequest) -> HttpResponse | None:
    """Answers a tablet's well-formed POST; None hands the request to DRF unchanged."""
    plain = _plain_submission(request)
    if plain is None:
        return None
    token, values = plain
    # From here on, every outcome is answered here: the request has been counted.
    caller = kiosk_caller(token=token)
    if caller.device is None:
        message = str(DeviceTokenAuthentication.failure_message)
        return _json(
            error_body("authentication_failed", message), 401, {"WWW-Authenticate": KEYWORD}
        )
    if caller.throttled:
        message = str(exceptions.Throttled(caller.retry_after).detail)
        return _json(
            error_body("rate_limited", message), 429, {"Retry-After": str(caller.retry_after)}
        )
    try:
        submission, created = _submission_create(
            token, caller.device, remembered=caller.remembered, values=values
        )
    except ServiceError as error:
        headers = {"WWW-Authenticate": KEYWORD} if error.status_code == 401 else None
        return _json(
            error_body(error.code, error.message, error.fields), error.status_code, headers
        )
    body = {
        "id": str(submission.pk),
        "received_at": submission.received_at.isoformat(),
        "duplicate": not created,
    }
    return _json(body, 201 if created else 200)


def _submission_create(
    token: str, device: Device, *, remembered: bool, values: dict[str, Any]
) -> tuple[Submission, bool]:
    try:
        return services.submission_create(device=device, **values)
    except ServiceError as error:
        refused = isinstance(error, services.DeviceRefusedError)
        if not remembered or not (refused or error.code == "validation_failed"):
            raise
        # The tablet came from this process's memory, and the store may have changed country
        # since (a phone number read with the old default prefix) or the tablet been revoked:
        # read it again, and check the answers again if the store is not the one they were
        # checked against.
        device_forget(token_hash=device.token_hash)
        fresh = kiosk_device_read(token=token)
        if fresh is None:
            raise services.DeviceRefusedError from error
        if not refused and (fresh.location_id, fresh.location.country) == (
            device.location_id,
            device.location.country,
        ):
            raise
        return services.submission_create(device=fresh, **values)


def _plain_submission(request: HttpRequest) -> tuple[str, dict[str, Any]] | None:
    """(device token, validated values) of a POST exactly as a tablet sends it, else None."""
    meta = request.META
    if (
        request.method != "POST"
        or request.content_type != "application/json"
        or request.encoding not in (None, "utf-8")
        or meta.get("HTTP_ACCEPT", "*/*") not in ("*/*", "application/json")
        or not _length_ok(meta)
    ):
        return None
    scheme, _, token = meta.get("HTTP_AUTHORIZATION", "").partition(" ")
    token = token.strip()
    if scheme != KEYWORD or not token or not token.isascii():
        return None
    try:
        data = json.loads(request.body.decode(), parse_constant=_refuse_constant)
    except ValueError:  # not UTF-8, not JSON
        return None
    values = _submission_values(data)
    return None if values is None else (token, values)
