"""Kiosk API: pair, fetch the published form, submit, heartbeat. One thin class per operation."""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors, services
from .authentication import (
    DeviceRateThrottle,
    DeviceTokenAuthentication,
    IsPairedDevice,
    PairingRateThrottle,
)
from .models import Device

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
            409: ERROR,
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
