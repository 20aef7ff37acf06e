"""Generic webhook, signed as the Standard Webhooks specification says.

Receivers verify ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of id.timestamp.body>``) with
the endpoint's ``whsec_`` secret. While a secret is being rotated both the new and the previous
secret sign, so a receiver can switch keys whenever it likes. ``webhook-id`` is the same on
every retry of one delivery, which is what lets the receiver drop repeats.

The body's ``timestamp`` is when the event happened (the shopper signed up) and stays the same on
every retry, as the specification says; ``webhook-timestamp`` is when this attempt was signed and
is fresh on each, which is what protects receivers from replays. Secrets are 24 to 64 random
bytes, the specification's bounds.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar, TypedDict

from django.utils.translation import gettext as _

from customerinfo.core.errors import FieldErrors

from .. import http
from ..endpoints import UrlRole
from ..limits import RateLimit
from .base import Contact, Provider, Result, classify, required_errors, with_notes
from .mapping import Dialect, PropertyType

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix the specification gives every secret
#: The specification's bounds for a signing secret, in bytes.
SECRET_MIN_BYTES, SECRET_MAX_BYTES = 24, 64


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def _secret_valid(secret: Any) -> bool:
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        return False
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:
        return False
    return SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES


#: Plain JSON: lists stay lists, checkboxes booleans; a birthday is text (MM-DD), as no JSON type
#: holds a date without a year.
DIALECT = Dialect(vendor="The webhook", types=frozenset(PropertyType) - {PropertyType.BIRTHDAY})


class WebhookSettings(TypedDict):
    """A webhook destination's settings; the signing secrets are in its credentials."""

    url: str


class WebhookProvider(Provider):
    settings: WebhookSettings
    kind: ClassVar[str] = "webhook"
    batch_size: ClassVar[int] = 1
    calls_per_claim: ClassVar[int] = 10
    rate_limit: ClassVar[RateLimit] = RateLimit(per_second=50, burst=50)
    url_settings: ClassVar[Mapping[str, UrlRole]] = {"url": UrlRole.ENDPOINT}
    dialect: ClassVar[Dialect] = DIALECT

    @classmethod
    def configuration_errors(
        cls, *, settings: dict[str, Any], credentials: dict[str, Any]
    ) -> FieldErrors:
        errors = required_errors(settings, ["url"])
        if not _secret_valid(credentials.get("secret")):
            errors["secret"] = [
                {
                    "code": "invalid",
                    "message": _(
                        "A whsec_ secret of %(least)s to %(most)s random bytes, base64-encoded."
                    )
                    % {"least": SECRET_MIN_BYTES, "most": SECRET_MAX_BYTES},
                }
            ]
        return errors

    def secrets_in_use(self) -> list[str]:
        """The current secret, and the previous one while its rotation grace period lasts."""
        in_use = [self.credentials["secret"]]
        previous = self.credentials.get("previous_secret")
        until = self.credentials.get("previous_valid_until", 0)
        if previous and float(until) > time.time():
            in_use.append(previous)
        return in_use

    def headers(self, *, message_id: str, body: bytes) -> dict[str, str]:
        timestamp = int(time.time())
        signatures = " ".join(
            signature(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
            for secret in self.secrets_in_use()
        )
        return {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signatures,
        }

    def post(self, *, message_id: str, event: dict[str, Any]) -> Result:
        body = json.dumps(event, separators=(",", ":")).encode()
        response = http.send(
            self.client,
            "POST",
            self.settings["url"],
            content=body,
            headers=self.headers(message_id=message_id, body=body),
        )
        # 410 Gone: the receiver says this endpoint is no more; the destination gets disabled.
        return classify(response, broken=(401, 403, 404, 410))

    def _deliver(self, contact: Contact) -> dict[int, Result]:
        mapped = self.mapped(contact)
        data = {**contact.payload(), "properties": mapped.values}
        event = {
            "type": "signup.created",
            # When the shopper signed up: the same on every retry (the signature's is fresh).
            "timestamp": contact.captured_at or datetime.now(UTC).isoformat(),
            "data": data,
        }
        result = self.post(message_id=f"msg_{contact.submission_id}", event=event)
        return {contact.key: with_notes(result, mapped.notes)}

    def send(self, contacts: Sequence[Contact]) -> dict[int, Result]:
        results: dict[int, Result] = {}
        for contact in contacts:
            results.update(self.guarded([contact], partial(self._deliver, contact)))
        return results

    def test_connection(self) -> Result:
        event = {"type": "ping", "timestamp": datetime.now(UTC).isoformat(), "data": {}}
        message_id = f"msg_ping_{secrets.token_hex(8)}"
        outcome = self.guarded(
            [Contact(key=0, submission_id="", email="")],
            lambda: {0: self.post(message_id=message_id, event=event)},
        )
        return outcome[0]
