"""A request as the server read it and a reply as it will write it, for every kind of route."""

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from .params import decode
from .state import Json


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def params(self) -> Json:
        """Query parameters, plus a form body on POST (Stripe v1 takes both)."""
        pairs = parse_qsl(self.query, keep_blank_values=True)
        if self.method == "POST" and self.body:
            pairs += parse_qsl(self.body.decode(), keep_blank_values=True)
        return decode(pairs)

    def form(self) -> dict[str, str]:
        """A browser's form post, flat: the hosted pages' fields have simple names."""
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    payload = json.dumps(body, indent=2).encode()
    return Reply(status, payload, {"Content-Type": "application/json", **(headers or {})})


def html_reply(status: int, page: str) -> Reply:
    return Reply(status, page.encode(), {"Content-Type": "text/html; charset=utf-8"})


def redirect(location: str) -> Reply:
    """303 See Other: after a form post the browser GETs the next page."""
    return Reply(303, b"", {"Location": location})
