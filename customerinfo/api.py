"""What every request under ``/api/`` gets, whatever view (or none) answers it.

The kiosk API promises one error shape, ``{"error": {"code", "message"}}``, for any input. DRF's
exception handler keeps that promise inside its views; this middleware keeps it around them:

- a body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused with 413 ``too_large`` before anything
  reads it (by its Content-Length; a body sent without one, chunked, is read here up to one byte
  past the limit);
- an error answered outside DRF (an unknown ``/api/`` path, an unknown host, a request Django
  finds suspicious, an exception in the fast path or a middleware, which Django logs with its
  traceback) is rewritten into the error shape, keeping its status and headers.

Placed right after the request-id middleware, so it also sees the host router's answers. On the
kiosk's sign-up path it costs a prefix test and the Content-Length compared on the way in, the
status compared on the way out: nothing is read from the database or Redis.
"""

from collections.abc import Callable
from io import BytesIO

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from rest_framework.renderers import JSONRenderer

from customerinfo.core.errors import (
    MALFORMED_MESSAGE,
    SERVER_ERROR_MESSAGE,
    TOO_LARGE_MESSAGE,
    error_body,
)

API_PREFIX = "/api/"

#: Codes for the statuses Django (not DRF) may answer under /api/; any other is ``error``.
_CODES: dict[int, tuple[str, str]] = {
    400: ("malformed_request", MALFORMED_MESSAGE),
    403: ("permission_denied", "This request is not allowed."),
    404: ("not_found", "There is no API endpoint at this address."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("too_large", TOO_LARGE_MESSAGE),
    500: ("server_error", SERVER_ERROR_MESSAGE),
    503: ("unavailable", "The service is not available yet; try again shortly."),
}

#: Headers that describe the replaced body; every other header (Allow, Retry-After, the
#: security headers, cookies) stays on the rewritten answer.
_BODY_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "content-language"}
)


def api_error(status: int, code: str, message: str) -> HttpResponse:
    """An error answer in the API's shape, written as DRF's JSONRenderer writes it."""
    return HttpResponse(
        JSONRenderer().render(error_body(code, message)),
        status=status,
        content_type="application/json",
    )


def _in_error_shape(response: HttpResponseBase) -> HttpResponseBase:
    """``response`` with its body replaced by the error shape, its status and other headers
    kept. Rewritten in place, so Django knows it has logged it already."""
    code, message = _CODES.get(response.status_code, ("error", f"{response.reason_phrase}."))
    if not isinstance(response, HttpResponse):  # streamed: its body cannot be replaced
        shaped = api_error(response.status_code, code, message)
        for name, value in response.items():
            if name.lower() not in _BODY_HEADERS:
                shaped[name] = value
        response.close()
        return shaped
    response.content = JSONRenderer().render(error_body(code, message))
    for name in _BODY_HEADERS:
        del response[name]
    response["Content-Type"] = "application/json"
    response["Content-Length"] = str(len(response.content))
    return response


def _too_large() -> HttpResponse:
    return api_error(413, "too_large", TOO_LARGE_MESSAGE)


def _read_undeclared_body(request: HttpRequest, *, limit: int) -> HttpResponse | None:
    """Reads a body sent without Content-Length (chunked) up to one byte past ``limit``.

    Django reads a WSGI body only as far as Content-Length says, so a chunked body would reach
    the view empty; under ASGI it reads all of it. Read here with a bound, it is refused with
    413 past the limit, and otherwise handed on with its length declared, as if it had been.
    """
    if isinstance(request, WSGIRequest):
        raw: bytes = request.environ["wsgi.input"].read(limit + 1)
        if len(raw) > limit:
            return _too_large()
        # Django has no public way to give a request its body; the stream it reads is this one.
        request._stream = BytesIO(raw)
    else:
        try:
            raw = request.body  # ASGI: Django measures the spooled body and refuses past limit
        except RequestDataTooBig:
            return _too_large()
    # DRF reads a body only when Content-Length says there is one.
    request.META["CONTENT_LENGTH"] = str(len(raw))
    return None


class ApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        refused = self._refuse_body(request)
        if refused is not None:
            return refused
        response = self.get_response(request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return _in_error_shape(response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A view that read a body past the limit (Django raises while reading): 413, where
        Django would answer 400 as for any suspicious request."""
        if isinstance(exception, RequestDataTooBig) and request.path_info.startswith(API_PREFIX):
            return _too_large()
        return None

    @staticmethod
    def _refuse_body(request: HttpRequest) -> HttpResponse | None:
        limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None:
            return None
        meta = request.META
        declared = meta.get("CONTENT_LENGTH")
        if declared:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length > limit:
                return _too_large()
            if length < 0:
                # Django would read a garbled length as no body, and request.body would raise.
                return api_error(400, "malformed_request", "Content-Length is not a length.")
            return None
        if meta.get("HTTP_TRANSFER_ENCODING"):
            return _read_undeclared_body(request, limit=limit)
        return None
