"""One error shape for every API: ``{"error": {"code", "message", "fields"}}``.

Services raise ServiceError with a stable code; the DRF exception handler below turns it, and
DRF's own errors (authentication, throttling, parsing), into that shape. Codes are part of the
API contract: tablets and integrations branch on them, so they never change meaning.

An exception nobody expected is answered in the same shape too (500 ``server_error``, logged
with its traceback): the tablet backs off that sign-up alone and sends it again, where an HTML
page would be an answer it cannot read. ``customerinfo.api`` does the same for what happens
outside DRF's views.
"""

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.utils.log import log_response
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from .parsers import TooLarge

FieldErrors = dict[str, list[dict[str, str]]]


class ServiceError(Exception):
    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(
        self,
        code: str,
        message: str,
        *,
        fields: FieldErrors | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}
        if status_code is not None:
            self.status_code = status_code


def error_body(code: str, message: str, fields: FieldErrors | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


TOO_LARGE_MESSAGE = str(TooLarge.default_detail)
MALFORMED_MESSAGE = "The request could not be read."
SERVER_ERROR_MESSAGE = "Something went wrong on the server; send the request again later."


_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ParseError: "malformed_request",
    TooLarge: "too_large",
}


def _field_errors(detail: Any) -> FieldErrors:
    if not isinstance(detail, dict):
        return {}
    fields: FieldErrors = {}
    for name, errors in detail.items():
        items = errors if isinstance(errors, list) else [errors]
        fields[str(name)] = [
            {"code": getattr(item, "code", "invalid"), "message": str(item)} for item in items
        ]
    return fields


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
    response = exception_handler(exc, context)
    if response is None:
        return _unexpected(exc, context)
    if isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        message = "Some fields are not valid." if fields else str(exc.detail)
        response.data = error_body("validation_failed", message, fields)
        return response
    code = next((c for kind, c in _DRF_CODES.items() if isinstance(exc, kind)), "error")
    detail = getattr(exc, "detail", str(exc))
    response.data = error_body(code, str(detail))
    return response


def _unexpected(exc: Exception, context: dict[str, Any]) -> Response:
    """What DRF does not know, still in the error shape."""
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("too_large", TOO_LARGE_MESSAGE), status=413)
    if isinstance(exc, SuspiciousOperation):
        # What Django itself answers 400 (and logs under django.security) outside DRF.
        security = logging.getLogger(f"django.security.{exc.__class__.__name__}")
        security.error(str(exc))
        return Response(error_body("malformed_request", MALFORMED_MESSAGE), status=400)
    set_rollback()
    response = Response(error_body("server_error", SERVER_ERROR_MESSAGE), status=500)
    request = context.get("request")
    # Django's own line for an uncaught exception ("Internal Server Error: /path", with the
    # traceback), marked as logged so Django does not log the answer a second time.
    log_response(
        "Internal Server Error: %s",
        getattr(request, "path", "-"),
        response=response,
        request=request,
        exception=exc,
    )
    return response
