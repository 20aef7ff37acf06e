"""The kiosk's sign-up POST without DRF's per-request machinery: the one hot path.

Every shopper, every tablet, and every queued sign-up when a tablet comes back online goes
through here. A POST whose headers and body are plainly what a tablet sends is answered with
the same service, answers and error codes as the documented DRF view (``signup.apis``); anything
else returns None before any side effect and goes to DRF, so its errors stay DRF's own.
"""

import json
import re
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions, serializers

from customerinfo.core.errors import ServiceError, error_body
from customerinfo.core.parsers import MalformedJSONError, json_loads_safe

from . import services
from .authentication import KEYWORD, DeviceTokenAuthentication, kiosk_caller, kiosk_device_read
from .devices import device_forget
from .models import Device, Submission

#: The largest id PostgreSQL's bigint holds: a form version past it is refused, not a 500.
MAX_ID = 2**63 - 1
#: Locales the serializer accepts: the tablet sends a language code such as "fr" or "pt-BR".
LOCALE_PATTERN = r"^[A-Za-z0-9_-]{1,8}$"
_LOCALE = re.compile(LOCALE_PATTERN)
#: Parses captured_at exactly as the serializer's field does (ISO 8601, made aware in UTC).
_CAPTURED_AT = serializers.DateTimeField()
_ALLOW = ", ".join(method.upper() for method in ("post", "options"))


def submission_arguments(values: dict[str, Any]) -> dict[str, Any]:
    """The service's keyword arguments from the validated request."""
    return {
        "submission_id": values["id"],
        "form_version_id": values["form_version"],
        "locale": values["locale"],
        "captured_at": values["captured_at"],
        "answers": values["answers"],
        "consents": values["consents"],
    }


def stored_body(submission: Submission, created: bool) -> dict[str, Any]:
    return {
        "id": str(submission.pk),
        "received_at": submission.received_at.isoformat(),
        "duplicate": not created,
        "set_aside": {key: entry["code"] for key, entry in submission.set_aside.items()},
    }


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
        or not 1 <= version <= MAX_ID
        or type(locale) is not str
        or type(captured) is not str
        or type(answers) is not dict
        or type(consents) is not dict
        or not _LOCALE.fullmatch(locale)
    ):
        return None
    try:
        submission_id = uuid.UUID(raw_id)
        captured_at: datetime = _CAPTURED_AT.to_internal_value(captured)
    except (ValueError, exceptions.ValidationError):
        return None
    return {
        "id": submission_id,
        "form_version": version,
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
        text.encode(errors="backslashreplace"),
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


def submission_fast(request: HttpRequest) -> HttpResponse | None:
    """Answers a tablet's well-formed POST; None hands the request to DRF unchanged."""
    plain = _plain_submission(request)
    if plain is None:
        return None
    token, data, values = plain
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
    device = caller.device

    def read_again() -> Device | None:
        # The tablet came from this process's memory, and the store may have changed country
        # since (answers checked with the old one) or the tablet been revoked: read it again.
        device_forget(token_hash=device.token_hash)
        return kiosk_device_read(token=token)

    try:
        submission, created = services.submission_receive(
            device=device,
            payload=data,
            read_again=read_again if caller.remembered else None,
            **submission_arguments(values),
        )
    except ServiceError as error:
        headers = {"WWW-Authenticate": KEYWORD} if error.status_code == 401 else None
        return _json(
            error_body(error.code, error.message, error.fields), error.status_code, headers
        )
    return _json(stored_body(submission, created), 201 if created else 200)


def _plain_submission(request: HttpRequest) -> tuple[str, Any, dict[str, Any]] | None:
    """(device token, body, validated values) of a POST exactly as a tablet sends it, else
    None."""
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
        data = json_loads_safe(request.body)
    except MalformedJSONError:  # DRF's parser refuses it with the same rules, in the shape
        return None
    values = _submission_values(data)
    return None if values is None else (token, data, values)
