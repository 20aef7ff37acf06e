"""The demo webhook sink: where ``make run``'s demo shop sends its sign-ups.

A newcomer signs up on the demo kiosk and sees the contact land here, signed, within a second,
which shows the whole path (outbox, worker, webhook) working. It keeps the last events in Redis
and verifies each signature with the secret the demo destination was given. It exists only
where ``CRM_DEMO_SINK`` is on (development), never in production.
"""

import json
from datetime import UTC, datetime
from typing import Any, cast

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from customerinfo.core.portal import HtmxRequest
from customerinfo.core.redis import redis_client, redis_key

KEEP = 50


def _key(name: str) -> str:
    return redis_key("crm", "demo-sink", name)


def sink_secret_key(name: str) -> str:
    return redis_key("crm", "demo-sink-secret", name)


def _verified(request: HttpRequest, name: str) -> bool:
    secret: Any = redis_client().get(sink_secret_key(name))
    if not secret:
        return False
    headers = {key: request.headers.get(key, "") for key in _SIGNED_HEADERS}
    try:
        Webhook(secret.decode()).verify(request.body, headers)
    except WebhookVerificationError:
        return False
    return True


_SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


@csrf_exempt
def demo_sink(request: HttpRequest, name: str) -> HttpResponse:
    if not settings.CRM_DEMO_SINK:
        raise Http404("The demo sink is off.")
    if request.method == "POST":
        try:
            event = json.loads(request.body)
        except ValueError:
            return JsonResponse(
                {"error": {"code": "invalid_json", "message": "Send a JSON body."}}, status=400
            )
        record = {
            "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "webhook_id": request.headers.get("webhook-id", ""),
            "verified": _verified(request, name),
            "event": event,
        }
        pipeline = redis_client().pipeline()
        pipeline.lpush(_key(name), json.dumps(record))
        pipeline.ltrim(_key(name), 0, KEEP - 1)
        pipeline.execute()
        return HttpResponse(status=204)
    raw: Any = redis_client().lrange(_key(name), 0, KEEP - 1)
    events = [json.loads(item) for item in raw]
    htmx = cast(HtmxRequest, request).htmx
    template = "crm_sync/demo_sink_events.html" if htmx else "crm_sync/demo_sink.html"
    return render(request, template, {"name": name, "events": events})
