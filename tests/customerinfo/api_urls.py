"""A tenant URL conf with views that fail on purpose, for the tests of ``customerinfo.api``.

Used with ``override_settings(ROOT_URLCONF=...)``: the real routes stay, and these are added
both under ``/api/`` and outside it, so a test can show which requests get the API's shape.
"""

from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from customerinfo.urls_tenants import urlpatterns as tenant_urlpatterns


class DeliberateError(RuntimeError):
    """What the views below raise: nothing any handler knows."""


def plain_failure(request: HttpRequest) -> HttpResponse:
    raise DeliberateError("a plain view failed")


def plain_too_big(request: HttpRequest) -> HttpResponse:
    raise RequestDataTooBig("read past the limit")


@csrf_exempt
def plain_echo(request: HttpRequest) -> HttpResponse:
    """The body as the view receives it, and its declared length."""
    length = request.META.get("CONTENT_LENGTH", "")
    return HttpResponse(request.body, headers={"X-Length": length})


def streamed_missing(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(
        iter([b"<p>gone</p>"]), status=410, content_type="text/html", headers={"X-Kept": "yes"}
    )


class DrfView(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    raises: type[Exception] = DeliberateError

    def get(self, request: Request) -> Response:
        raise self.raises("a DRF view failed")


urlpatterns = [
    path("api/test/plain-failure", plain_failure),
    path("api/test/plain-too-big", plain_too_big),
    path("api/test/echo", plain_echo),
    path("api/test/streamed", streamed_missing),
    path("api/test/drf-failure", DrfView.as_view()),
    path("api/test/drf-suspicious", DrfView.as_view(raises=SuspiciousOperation)),
    path("api/test/drf-too-big", DrfView.as_view(raises=RequestDataTooBig)),
    path("test/plain-failure", plain_failure),
    *tenant_urlpatterns,
]
