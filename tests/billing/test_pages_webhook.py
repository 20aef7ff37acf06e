"""Stripe's webhook endpoint: signatures, rotation, duplicates and bodies that are no event."""

import json
import time
from typing import Any

import pytest
from django.test import Client
from pytest_django import Settings

from billing.models import (
    StripeEvent,
)
from billing.stripe_fake import signature_header
from billing.tasks import event_process_task

from .conftest import WEBHOOK_SECRET
from .pages import public_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def public() -> Client:
    return public_client()


# --- Stripe's webhook ------------------------------------------------------------------------


@pytest.fixture
def webhook(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Client:
    settings.STRIPE_WEBHOOK_SECRETS = [WEBHOOK_SECRET]
    monkeypatch.setattr(event_process_task, "delay", lambda **kwargs: None)
    return Client(HTTP_HOST="localhost")


def post_event(
    client: Client, body: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None
) -> Any:
    signature = signature_header(body, secret, int(time.time()) if at is None else at)
    return client.generic(
        "POST",
        "/stripe/webhook/",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature,
    )


def event_body(event_id: str = "evt_test_pages_1") -> bytes:
    event = {
        "id": event_id,
        "object": "event",
        "type": "customer.updated",
        "data": {"object": {"id": "cus_nobody", "object": "customer"}},
    }
    return json.dumps(event).encode()


def test_a_signed_event_is_stored_once_and_a_replay_says_duplicate(webhook: Client) -> None:
    body = event_body()
    first = post_event(webhook, body)
    assert first.status_code == 200
    assert first.json() == {"received": "evt_test_pages_1", "duplicate": False}
    replay = post_event(webhook, body)
    assert replay.status_code == 200
    assert replay.json() == {"received": "evt_test_pages_1", "duplicate": True}
    assert StripeEvent.objects.filter(event_id="evt_test_pages_1").count() == 1


@pytest.mark.parametrize(
    ("secret", "age", "code"),
    [
        ("whsec_someone_else", 0, "invalid_signature"),
        (WEBHOOK_SECRET, 3600, "invalid_signature"),  # an old signature, replayed
    ],
)
def test_a_bad_signature_is_400_in_the_error_shape(
    webhook: Client, secret: str, age: int, code: str
) -> None:
    response = post_event(webhook, event_body(), secret=secret, at=int(time.time()) - age)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert not StripeEvent.objects.exists()


def test_no_signature_at_all_is_400(webhook: Client) -> None:
    response = webhook.post("/stripe/webhook/", event_body(), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"


@pytest.mark.parametrize("body", [b"not json {", b"[1, 2]", b'{"type": "x"}'])
def test_a_signed_body_that_is_no_event_is_400(webhook: Client, body: bytes) -> None:
    response = post_event(webhook, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert not StripeEvent.objects.exists()


def test_either_secret_is_accepted_while_one_is_rotated(
    webhook: Client, settings: Settings
) -> None:
    settings.STRIPE_WEBHOOK_SECRETS = ["whsec_new_one", WEBHOOK_SECRET]
    assert post_event(webhook, event_body("evt_old"), secret=WEBHOOK_SECRET).status_code == 200
    assert post_event(webhook, event_body("evt_new"), secret="whsec_new_one").status_code == 200
