"""The webhook's event time and secrets, as the Standard Webhooks specification has them."""

import base64

import httpx
import pytest

from crm_sync.providers.base import Contact, Verdict
from crm_sync.providers.webhook import SECRET_PREFIX, WebhookProvider, secret_generate

from .fakes.server import Reply
from .fakes.webhook import FakeWebhookReceiver

CAPTURED_AT = "2025-03-14T09:26:53.589793+00:00"


def test_the_event_time_is_the_sign_up_and_stays_the_same_on_every_retry(
    http: httpx.Client, secret: str
) -> None:
    with FakeWebhookReceiver(secrets=[secret]) as receiver:
        assert isinstance(receiver, FakeWebhookReceiver)
        provider = WebhookProvider(
            settings={"url": receiver.url}, credentials={"secret": secret}, client=http
        )
        shopper = Contact(key=1, submission_id="s-1", email="a@b.co", captured_at=CAPTURED_AT)
        receiver.force(Reply(503))

        first = provider.send([shopper])[1]
        second = provider.send([shopper])[1]

        assert (first.verdict, second.verdict) == (Verdict.RETRY, Verdict.DELIVERED)
        bodies = [request.json() for request in receiver.requests]
        assert [body["timestamp"] for body in bodies] == [CAPTURED_AT, CAPTURED_AT]
        # The signature's timestamp is the attempt's: whole seconds, now.
        stamps = [int(request.headers["webhook-timestamp"]) for request in receiver.requests]
        assert all(stamp > 1_700_000_000 for stamp in stamps)
        assert receiver.rejected_signatures == 0


@pytest.mark.parametrize(
    ("size", "valid"), [(16, False), (23, False), (24, True), (64, True), (65, False)]
)
def test_secrets_are_24_to_64_bytes(size: int, valid: bool) -> None:
    secret = SECRET_PREFIX + base64.b64encode(bytes(range(size))).decode()

    errors = WebhookProvider.configuration_errors(
        settings={"url": "https://example.com"}, credentials={"secret": secret}
    )

    assert ("secret" not in errors) is valid


def test_generated_secrets_are_valid() -> None:
    errors = WebhookProvider.configuration_errors(
        settings={"url": "https://example.com"}, credentials={"secret": secret_generate()}
    )

    assert errors == {}
