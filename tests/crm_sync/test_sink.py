"""The demo sink: a signed sign-up arrives and is shown as verified."""

import json
from typing import Any

import httpx
import pytest
from django.test import Client

from crm_sync.providers.webhook import WebhookProvider, secret_generate
from crm_sync.sink import sink_secret_key
from customerinfo.core.redis import redis_client

pytestmark = pytest.mark.django_db


def signed_post(client: Client, secret: str, event: dict[str, Any]) -> int:
    with httpx.Client() as unused:  # signing needs no connection
        provider = WebhookProvider(settings={}, credentials={"secret": secret}, client=unused)
    body = json.dumps(event).encode()
    headers = provider.headers(message_id="msg_1", body=body)
    response = client.post(
        "/sink/demo/",
        data=body,
        content_type="application/json",
        headers={key: value for key, value in headers.items() if key != "content-type"},
    )
    return response.status_code


def test_a_signed_event_is_kept_and_shown_verified() -> None:
    secret = secret_generate()
    redis_client().set(sink_secret_key("demo"), secret)
    client = Client(HTTP_HOST="localhost")
    event = {"type": "signup.created", "data": {"email": "ana@example.com", "consents": []}}
    assert signed_post(client, secret, event) == 204
    assert signed_post(client, secret_generate(), event) == 204
    page = client.get("/sink/demo/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "ana@example.com" in text
    assert "<td>valid</td>" in text
    assert "not verified" in text
    fragment = client.get("/sink/demo/", HTTP_HX_REQUEST="true")
    assert "<h1>" not in fragment.content.decode()
    assert "ana@example.com" in fragment.content.decode()


def test_bad_json_gets_a_clear_error() -> None:
    response = Client(HTTP_HOST="localhost").post(
        "/sink/demo/", data=b"{", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_the_sink_is_off_unless_enabled(settings: Any) -> None:
    settings.CRM_DEMO_SINK = False
    assert Client(HTTP_HOST="localhost").get("/sink/demo/").status_code == 404
