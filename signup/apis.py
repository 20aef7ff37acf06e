"""Kiosk API: pair, fetch the form, submit, check, hand over refusals, heartbeat. One thin class
per operation; docs/kiosk-api.md says what each promises.

Submitting is the one hot path, so a well-formed submission is answered before the middleware
chain and DRF (``customerinfo.kiosk_lane`` with ``signup.submit_fast``); this module's
``SubmissionApi`` documents it and answers the rest.
"""

import re
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from customerinfo.core.fields import (
    StrictCharField,
    StrictIntegerField,
    StrictRegexField,
    StrictUUIDField,
)

from . import selectors, services
from .authentication import (
    DeviceRateThrottle,
    DeviceTokenAuthentication,
    IsPairedDevice,
    PairingRateThrottle,
)
from .models import Device
from .submit_fast import LOCALE_PATTERN, MAX_ID, stored_body, submission_arguments

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


#: Error codes a tablet reports, as the API writes them.
REASON_PATTERN = re.compile(r"[a-z0-9_.]{1,60}")
#: Every operation of a paired tablet may be refused for these.
KIOSK_ERRORS = {400: ERROR, 401: ERROR, 413: ERROR, 429: ERROR}


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
        code = StrictCharField(max_length=20)
        previous_token = StrictCharField(
            max_length=200,
            required=False,
            default="",
            help_text="The token this tablet had before it was revoked, if any: what waited on "
            "it is now this pairing's to send.",
        )

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
        responses={201: PairOutputSerializer, 400: ERROR, 413: ERROR, 429: ERROR},
        summary="Exchange a one-time pairing code for a device token",
    )
    def post(self, request: Request) -> Response:
        data = self.PairInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device, token = services.device_pair(
            code=data.validated_data["code"], previous_token=data.validated_data["previous_token"]
        )
        body = {
            "device_token": token,
            "device": {"id": device.pk, "name": device.name},
            "location": {"id": device.location.pk, "name": device.location.name},
        }
        return Response(body, status=status.HTTP_201_CREATED)


class FormApi(KioskAPIView):
    @extend_schema(
        responses={
            200: OpenApiResponse(description="The published form, its store and its rules"),
            401: ERROR,
            404: ERROR,
            429: ERROR,
        },
        summary="The published form this tablet shows, with its store's overrides",
    )
    def get(self, request: Request) -> Response:
        return Response(selectors.kiosk_form(location=_device(request).location))


class SubmissionInputSerializer(serializers.Serializer[Any]):
    """A sign-up as the tablet sends it. The fast path (``signup.submit_fast``) accepts exactly
    what this accepts, and the OpenAPI schema is made from it."""

    id = StrictUUIDField()
    form_version = StrictIntegerField(min_value=1, max_value=MAX_ID)
    locale = StrictRegexField(LOCALE_PATTERN, max_length=8, trim_whitespace=False)
    captured_at = serializers.DateTimeField()
    answers = serializers.DictField()
    consents = serializers.DictField(required=False, default=dict)


class SubmissionApi(KioskAPIView):
    class SubmissionOutputSerializer(serializers.Serializer[Any]):
        id = serializers.UUIDField()
        received_at = serializers.DateTimeField()
        duplicate = serializers.BooleanField()
        set_aside = serializers.DictField(
            child=serializers.CharField(),
            help_text="Answers kept apart from the sign-up, with their error code.",
        )

    @extend_schema(
        request=SubmissionInputSerializer,
        responses={
            201: SubmissionOutputSerializer,
            200: SubmissionOutputSerializer,
            409: ERROR,
            **KIOSK_ERRORS,
        },
        summary="Store a sign-up (idempotent on the tablet-made id)",
        description="Answers the server refuses are set aside and the sign-up is stored. Only a "
        "sign-up with no usable email, an unknown form version, a store closed before it was "
        "captured or an id another tablet used is refused, and it is then recorded as rejected.",
    )
    def post(self, request: Request) -> Response:
        data = SubmissionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        submission, created = services.submission_receive(
            device=_device(request),
            payload=request.data,
            **submission_arguments(data.validated_data),
        )
        return Response(
            stored_body(submission, created),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class SubmissionCheckApi(KioskAPIView):
    # inline: a declared field named "fields" would shadow Serializer.fields for the type checker.
    CheckOutputSerializer = inline_serializer(
        "SubmissionCheck",
        {
            "accepted": serializers.BooleanField(help_text="Whether the sign-up would be stored."),
            "fields": serializers.DictField(
                child=serializers.ListField(child=serializers.DictField()),
                help_text="Every answer that would be set aside or that refuses it, by field.",
            ),
        },
    )

    @extend_schema(
        request=SubmissionInputSerializer,
        responses={200: CheckOutputSerializer, **KIOSK_ERRORS},
        summary="What the server would do with a sign-up; stores nothing",
    )
    def post(self, request: Request) -> Response:
        data = SubmissionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        arguments = submission_arguments(data.validated_data)
        del arguments["submission_id"]
        accepted, fields = services.submission_check(device=_device(request), **arguments)
        return Response({"accepted": accepted, "fields": fields})


class RejectionApi(KioskAPIView):
    class RejectionInputSerializer(serializers.Serializer[Any]):
        id = StrictUUIDField()
        status = StrictIntegerField(min_value=100, max_value=599)
        error = inline_serializer(
            "Refusal",
            {
                "code": StrictCharField(max_length=60, allow_blank=True, default=""),
                "message": StrictCharField(max_length=1000, allow_blank=True, default=""),
                "fields": serializers.DictField(required=False, default=dict),
            },
            required=False,
            allow_null=True,
            default=None,
        )
        payload = StrictCharField(
            max_length=services.MAX_PAYLOAD, allow_blank=True, trim_whitespace=False
        )
        captured_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    class RejectionOutputSerializer(serializers.Serializer[Any]):
        id = serializers.UUIDField()
        duplicate = serializers.BooleanField()

    @extend_schema(
        request=RejectionInputSerializer,
        responses={201: RejectionOutputSerializer, 200: RejectionOutputSerializer, **KIOSK_ERRORS},
        summary="Hand over a sign-up the server refused, so that it lives on the server",
    )
    def post(self, request: Request) -> Response:
        data = self.RejectionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        refusal = values["error"] or {}
        rejection, created = services.rejection_record(
            device=_device(request),
            submission_id=values["id"],
            status_code=values["status"],
            code=refusal.get("code") or f"http_{values['status']}",
            message=refusal.get("message", ""),
            fields=refusal.get("fields", {}),
            payload=values["payload"],
            captured_at=values["captured_at"],
        )
        return Response(
            {"id": str(rejection.pk), "duplicate": not created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class HeartbeatApi(KioskAPIView):
    # A revoked tablet's beat is authenticated too, so what still waits on it is recorded; the
    # view then answers 401 as to any other request of a revoked tablet.
    revoked_tablets_report = True

    class HeartbeatInputSerializer(serializers.Serializer[Any]):
        app_version = StrictCharField(max_length=40, allow_blank=True, default="")
        queue_depth = StrictIntegerField(
            min_value=0, max_value=services.MAX_QUEUE_REPORT, default=0
        )
        held = StrictIntegerField(min_value=0, max_value=services.MAX_QUEUE_REPORT, default=0)
        held_reasons = serializers.DictField(
            child=StrictIntegerField(min_value=0, max_value=services.MAX_QUEUE_REPORT),
            required=False,
            default=dict,
        )
        oldest_unsent_at = serializers.DateTimeField(required=False, allow_null=True)

        def validate_held_reasons(self, value: dict[str, int]) -> dict[str, int]:
            if len(value) > services.MAX_HELD_REASONS or not all(
                REASON_PATTERN.fullmatch(key) for key in value
            ):
                raise serializers.ValidationError(
                    f"At most {services.MAX_HELD_REASONS} error codes, like invalid_email."
                )
            return value

    class HeartbeatOutputSerializer(serializers.Serializer[Any]):
        server_time = serializers.DateTimeField()
        form_version = serializers.IntegerField(allow_null=True)
        accepting = serializers.BooleanField()

    @extend_schema(
        request=HeartbeatInputSerializer,
        responses={200: HeartbeatOutputSerializer, **KIOSK_ERRORS},
        summary="Report the tablet's queue; learn of a new form version or a closed store",
    )
    def post(self, request: Request) -> Response:
        data = self.HeartbeatInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        device = services.device_heartbeat(
            device=_device(request),
            app_version=values["app_version"],
            queue_depth=values["queue_depth"],
            held=values["held"],
            held_reasons=values["held_reasons"],
            oldest_unsent_at=values.get("oldest_unsent_at"),
        )
        if device.revoked_at is not None:
            raise exceptions.AuthenticationFailed(DeviceTokenAuthentication.failure_message)
        version = selectors.current_version(location=device.location)
        return Response(
            {
                "server_time": device.last_seen_at,
                "form_version": version.pk if version else None,
                "accepting": device.location.closed_at is None,
            }
        )
