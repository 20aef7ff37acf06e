"""Sentry, when SENTRY_DSN is set: web requests and Celery tasks, tagged with the shop's schema
and the request id the ingress gave, with shopper data scrubbed before anything leaves the
process."""

import logging
from typing import Any

from django.conf import settings

from customerinfo.core.tenancy import current_schema

from .scrubbing import FILTERED, scrub

logger = logging.getLogger(__name__)

Event = dict[str, Any]

#: The parts of an event that can carry what a shopper typed; the rest (SDK, runtime, module
#: names) is left as it is.
_REQUEST_PARTS = ("data", "query_string", "cookies", "headers", "env")


def _frames(event: Event) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    for source in [
        *(event.get("exception") or {}).get("values", []),
        *((event.get("threads") or {}).get("values", [])),
    ]:
        frames += (source.get("stacktrace") or {}).get("frames", [])
    return frames


def before_send(event: Event, hint: dict[str, Any]) -> Event:
    """Scrubs shopper data and adds the shop's schema and the request id as tags."""
    request = event.get("request")
    if isinstance(request, dict):
        for part in _REQUEST_PARTS:
            if part in request:
                request[part] = scrub(request[part])
    for value in (event.get("exception") or {}).get("values", []):
        if isinstance(value.get("value"), str):
            value["value"] = scrub(value["value"])
    for frame in _frames(event):
        if isinstance(frame.get("vars"), dict):
            # Variables named like personal data are filtered whole, the rest scrubbed.
            frame["vars"] = scrub(
                {
                    name: FILTERED if name in ("self", "request") else item
                    for name, item in frame["vars"].items()
                }
            )
    for key in ("extra", "logentry", "message", "breadcrumbs", "user"):
        if key in event:
            event[key] = scrub(event[key])
    tags = event.setdefault("tags", {})
    if isinstance(tags, dict):
        tags.setdefault("tenant", current_schema())
        request_id = _request_id(event)
        if request_id:
            tags.setdefault("request_id", request_id)
    return event


def _request_id(event: Event) -> str:
    """The ingress's X-Request-ID, which the logs carry too (customerinfo.logs uses it)."""
    headers = (event.get("request") or {}).get("headers") or {}
    if not isinstance(headers, dict):
        return ""
    for name, value in headers.items():
        if str(name).lower() == "x-request-id":
            return str(value)[:64]
    return ""


def sentry_init() -> bool:
    """Starts the Sentry client when a DSN is set; returns whether it did."""
    if not settings.SENTRY_DSN:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=settings.SENTRY_DSN,
        environment=settings.SENTRY_ENVIRONMENT,
        release=settings.SENTRY_RELEASE or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        traces_sample_rate=settings.SENTRY_TRACES_SAMPLE_RATE,
        before_send=before_send,  # type: ignore[arg-type]
        # The SDK's own list (passwords, tokens, cookies) on top of ours.
        event_scrubber=_event_scrubber(),
    )
    logger.info("sentry enabled", extra={"environment": settings.SENTRY_ENVIRONMENT})
    return True


def _event_scrubber() -> Any:
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

    from .scrubbing import PERSONAL_KEYS

    return EventScrubber(denylist=[*DEFAULT_DENYLIST, *sorted(PERSONAL_KEYS)], recursive=True)
