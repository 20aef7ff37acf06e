"""One error shape for every API: ``{"error": {"code", "message", "fields"}}``.

Services raise ServiceError with a stable code; the DRF exception handler below turns it, and
DRF's own errors (authentication, throttling, parsing), into that shape. Codes are part of the
API contract: tablets and integrations branch on them, so they never change meaning.
"""

from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

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
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        message = "Some fields are not valid." if fields else str(exc.detail)
        response.data = error_body("validation_failed", message, fields)
        return response
    code = next((c for kind, c in _DRF_CODES.items() if isinstance(exc, kind)), "error")
    detail = getattr(exc, "detail", str(exc))
    response.data = error_body(code, str(detail))
    return response
