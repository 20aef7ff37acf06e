"""What the people tests share: reading mail and pages, signing in as a browser does."""

import re
from html import unescape
from typing import Any

from django.core import mail
from django.test import Client


def text_of(response: Any) -> str:
    """The page's text, tags stripped and spaces squeezed, as a reader meets it."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def link_in_last_mail(pattern: str = r"https?://[^/\s]+(/password/invitation/\S+/)") -> str:
    """The path of the link the last email carries (the host is the shop's)."""
    found = re.search(pattern, str(mail.outbox[-1].body))
    assert found, mail.outbox[-1].body
    return found.group(1)


def sign_in(client: Client, email: str, password: str, *, address: str = "198.51.100.7") -> Any:
    """Posts the sign-in form from ``address`` (REMOTE_ADDR: no proxy is trusted in tests)."""
    return client.post("/login/", {"username": email, "password": password}, REMOTE_ADDR=address)
