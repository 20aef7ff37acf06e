"""A webhook receiver that checks Standard Webhooks signatures with the reference library."""

from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from .server import FakeServer, Reply, Request


class FakeWebhookReceiver(FakeServer):
    """Accepts events signed with any of ``secrets``; keeps one event per webhook-id."""

    def __init__(self, *, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = secrets
        self.events: dict[str, Any] = {}
        self.received = 0
        self.rejected_signatures = 0

    def handle(self, request: Request) -> Reply:
        if request.method != "POST":
            return Reply(405)
        headers = {name: request.headers.get(name, "") for name in _SIGNED_HEADERS}
        for secret in self.secrets:
            try:
                event = Webhook(secret).verify(request.body, headers)
            except WebhookVerificationError:
                continue
            self.received += 1
            # A receiver drops repeats by webhook-id, as the specification recommends.
            self.events.setdefault(headers["webhook-id"], event)
            return Reply(204)
        self.rejected_signatures += 1
        return Reply(401, {"error": "bad signature"})


_SIGNED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
