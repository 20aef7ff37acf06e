"""Stripe's webhooks: verified, stored once, answered at once, then processed by a worker.

Stripe sends an event again until it gets a 2xx within seconds, in any order, sometimes twice.
So the view only checks the signature and stores the event under its id (a repeat stores
nothing); a task processes it. Processing never trusts the snapshot in the event: it fetches
the subscription or invoice as it is now (``accounts.account_sync``), so any order of any
events ends in Stripe's state.
"""

import json
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from stripe import SignatureVerificationError, WebhookSignature

from customerinfo.core.errors import ServiceError

from ..models import StripeEvent
from .accounts import account_for_customer, account_sync
from .invoices import invoice_sync
from .signups import trial_signup_complete

logger = logging.getLogger(__name__)


def event_verify(*, payload: bytes, signature: str) -> dict[str, Any]:
    """The event, if ``signature`` is Stripe's for ``payload`` under a current secret."""
    secrets = settings.STRIPE_WEBHOOK_SECRETS
    if not secrets:
        raise ServiceError("webhook_not_configured", "No webhook secret is set.", status_code=503)
    text = payload.decode("utf-8", errors="replace")
    for secret in secrets:
        try:
            WebhookSignature.verify_header(
                text, signature, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS
            )
        except SignatureVerificationError:
            continue
        try:
            event = json.loads(text)
        except ValueError as error:
            raise ServiceError("malformed_request", "The event is not JSON.") from error
        if not isinstance(event, dict) or not isinstance(event.get("id"), str):
            raise ServiceError("malformed_request", "The event has no id.")
        return event
    raise ServiceError("invalid_signature", "The Stripe-Signature header does not match.")


def event_receive(*, payload: bytes, signature: str) -> tuple[StripeEvent, bool]:
    """Stores a verified event once; returns (event, new). A new one is processed after commit."""
    data = event_verify(payload=payload, signature=signature)
    try:
        with transaction.atomic():
            event = StripeEvent.objects.create(
                event_id=data["id"], type=str(data.get("type", "")), payload=data
            )
    except IntegrityError:
        return StripeEvent.objects.get(event_id=data["id"]), False
    from ..tasks import event_process_task

    transaction.on_commit(lambda: event_process_task.delay(event_id=event.event_id))
    return event, True


def _object(event: StripeEvent) -> dict[str, Any]:
    data = event.payload.get("data") or {}
    item = data.get("object") if isinstance(data, dict) else None
    return item if isinstance(item, dict) else {}


def event_process(*, event_id: str) -> bool:
    """Applies one stored event; returns False if it was processed already."""
    event = StripeEvent.objects.get(event_id=event_id)
    if event.processed_at is not None:
        return False
    event.attempts += 1
    try:
        _dispatch(event)
    except Exception as error:
        event.error = f"{type(error).__name__}: {error}"[:2000]
        event.save(update_fields=["attempts", "error"])
        raise
    event.processed_at = timezone.now()
    event.error = ""
    event.save(update_fields=["attempts", "error", "processed_at"])
    return True


def _dispatch(event: StripeEvent) -> None:
    item = _object(event)
    kind = event.type
    if kind == "checkout.session.completed":
        trial_signup_complete(session_id=str(item.get("id", "")))
        return
    customer = item.get("customer")
    customer_id = customer.get("id") if isinstance(customer, dict) else customer
    if kind.startswith("invoice.") and isinstance(item.get("id"), str):
        invoice_sync(invoice_id=item["id"])
    if not isinstance(customer_id, str):
        return
    account = account_for_customer(customer_id=customer_id)
    if account is None:
        # A customer made outside this product, or one whose sign-up has not completed yet
        # (checkout.session.completed makes the account and syncs it).
        logger.info("stripe event for an unknown customer", extra={"event": event.event_id})
        return
    if kind.startswith(("customer.subscription.", "invoice.")):
        account_sync(account=account)


def events_process_pending(*, limit: int = 500) -> int:
    """The safety net behind the task queue: every stored event not processed yet."""
    pending = StripeEvent.objects.filter(processed_at__isnull=True).order_by("received_at")
    done = 0
    for event_id in pending.values_list("event_id", flat=True)[:limit]:
        try:
            done += event_process(event_id=event_id)
        except Exception:
            logger.exception("stripe event failed", extra={"event": event_id})
    return done
