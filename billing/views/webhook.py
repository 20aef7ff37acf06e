"""Stripe's webhook endpoint, on the public host."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from customerinfo.core.errors import ServiceError, error_body

from .. import services


@csrf_exempt  # Stripe signs the body; there is no session or form to forge
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """200 as soon as the event is stored; a worker does the rest."""
    try:
        event, new = services.event_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
    except ServiceError as error:
        return JsonResponse(error_body(error.code, error.message), status=error.status_code)
    return JsonResponse({"received": event.event_id, "duplicate": not new})
