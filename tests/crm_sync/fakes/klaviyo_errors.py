"""Klaviyo's error answers and the request checks of the fake (``klaviyo.py``) that are plain
functions of a body: JSON:API resources, list references, consent times."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from .server import Reply


def error(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    pointer: str = "/data/",
    headers: dict[str, str] | None = None,
) -> Reply:
    """An error as Klaviyo words them (JSON:API errors)."""
    entry = {
        "id": str(uuid.uuid4()),
        "status": status,
        "code": code,
        "title": title,
        "detail": detail,
        "source": {"pointer": pointer},
        "meta": {},
    }
    return Reply(status, {"errors": [entry]}, headers or {})


def invalid(detail: str, pointer: str = "/data/") -> Reply:
    return error(400, "invalid", "Invalid input.", detail, pointer=pointer)


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def resource(body: Any, kind: str) -> tuple[dict[str, Any] | None, Reply | None]:
    """The ``data.attributes`` of a JSON:API body of this type, or the error to answer."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return None, invalid("The payload provided in the request is invalid.", "/data")
    if data.get("type") != kind:
        return None, invalid(f"Expected a resource of type '{kind}'.", "/data/type")
    attributes = data.get("attributes")
    if not isinstance(attributes, dict):
        return None, invalid("'attributes' must be an object.", "/data/attributes")
    return attributes, None


def list_reference(body: dict[str, Any]) -> dict[str, Any]:
    """The job's ``relationships.list.data``, or an empty dict when it names no list."""
    relationships = body["data"].get("relationships") or {}
    reference = (relationships.get("list") or {}).get("data") or {}
    return reference if isinstance(reference, dict) else {}


def consent_time_errors(
    marketing: dict[str, Any], pointer: str, *, historical: bool, now: datetime
) -> Iterator[Reply]:
    if "consented_at" in marketing and not historical:
        # Klaviyo: without historical_import, any value for consented_at is an error.
        yield invalid("consented_at can only be set when historical_import is true.", pointer)
    if historical:
        moment = _moment(marketing.get("consented_at"))
        if moment is None:
            yield invalid("consented_at is required when historical_import is true.", pointer)
        elif moment > now:
            yield invalid("consented_at must be in the past.", pointer)
