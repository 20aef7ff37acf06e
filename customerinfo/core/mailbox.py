"""``make run``'s mailbox: the emails the product sent, on a page of the public host.

A newcomer has no mail server, yet invitations and password resets only work through the
links they mail. With DEV_MAILBOX on (``make run`` turns it on; settings refuse it in
production) mail goes to Redis instead of out, from the web server and the worker alike, and
/mail/ lists it, newest first, links clickable. Off, the page does not exist (404).
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .redis import redis_client, redis_key

KEEP = 100


def _key() -> str:
    return redis_key("mailbox")


class MailboxBackend(BaseEmailBackend):
    """Keeps each message in Redis (the last KEEP) instead of sending it."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        if not email_messages:
            return 0
        pipeline = redis_client().pipeline()
        for message in email_messages:
            record = {
                "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "from": message.from_email,
                "to": list(message.to),
                "subject": message.subject,
                "body": str(message.body),
            }
            pipeline.lpush(_key(), json.dumps(record))
        pipeline.ltrim(_key(), 0, KEEP - 1)
        pipeline.execute()
        return len(email_messages)


def mailbox_messages() -> list[dict[str, Any]]:
    raw: Any = redis_client().lrange(_key(), 0, KEEP - 1)
    return [json.loads(item) for item in raw]


@require_GET
def mailbox_page(request: HttpRequest) -> HttpResponse:
    if not settings.DEV_MAILBOX:
        raise Http404("The mailbox is off.")
    return render(request, "core/mailbox.html", {"messages_sent": mailbox_messages()})
