"""The shared machinery of the fake CRMs."""

import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up waiting (a timeout test) hangs up before the answer: expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeServer:
    """Subclasses implement ``handle(request) -> Reply``; the rest is common.

    Faults: ``down`` closes every connection without an answer; ``delay`` sleeps before
    answering (longer than the client's timeout makes a timeout); ``forced`` answers queued
    replies before any real handling (a 429 storm, a 500, a 401).
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.forced: deque[Reply] = deque()
        self.down = False
        self.delay = 0.0
        self.arrived = 0
        self.server = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        # A short poll interval: shutdown() waits for the next poll, and tests stop many servers.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def force(self, *replies: Reply) -> None:
        with self.lock:
            self.forced.extend(replies)

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def _dispatch(self, request: Request) -> Reply | None:
        with self.lock:
            # Counted on arrival, before the answer is delayed: "a request is in flight".
            self.arrived += 1
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            if self.down:
                return None
            self.requests.append(request)
            if self.forced:
                return self.forced.popleft()
            return self.handle(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={key.lower(): value for key, value in self.headers.items()},
                    body=body,
                )
                reply = fake._dispatch(request)
                if reply is None:
                    # Down: drop the connection without a word, as a dead server does.
                    self.close_connection = True
                    self.connection.close()
                    return
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

        return Handler


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token if scheme.lower() == "bearer" else ""


class RateWindow:
    """A vendor's fixed-window request limit: ``limit`` requests per ``seconds``."""

    def __init__(self, *, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.window_start = time.monotonic()
        self.count = 0

    def allow(self) -> float | None:
        """None when allowed, else the seconds until the window resets (for Retry-After)."""
        now = time.monotonic()
        if now - self.window_start >= self.seconds:
            self.window_start, self.count = now, 0
        self.count += 1
        if self.count > self.limit:
            return self.seconds - (now - self.window_start)
        return None
