"""An S3-compatible server on loopback for the backup tests: moto in server mode (real HTTP),
behind a small proxy that can fail requests the way a flaky bucket does."""

import http.client
import logging
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from moto.server import ThreadedMotoServer

#: Decides, for a method and path, whether the proxy answers 500 instead of forwarding.
FailRule = Callable[[str, str], bool]


@dataclass
class FlakyProxy:
    upstream: tuple[str, int]
    fail: FailRule = lambda method, path: False
    #: Every request seen, and the ones refused: (method, path).
    seen: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1: botocore sends "Expect: 100-continue" and waits for the answer.
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", ""):
                    body = b""
                    while size := int(self.rfile.readline().strip() or b"0", 16):
                        body += self.rfile.read(size)
                        self.rfile.readline()
                    self.rfile.readline()
                    return body
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _forward(self) -> None:
                body = self._body()
                with proxy.lock:
                    proxy.seen.append((self.command, self.path))
                    refuse = proxy.fail(self.command, self.path)
                    if refuse:
                        proxy.refused.append((self.command, self.path))
                if refuse:
                    self.send_response(500)
                    error = b"<Error><Code>InternalError</Code><Message>flaky</Message></Error>"
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(error)))
                    self.end_headers()
                    self.wfile.write(error)
                    return
                headers = {
                    key: value
                    for key, value in self.headers.items()
                    if key.lower() not in {"transfer-encoding", "content-length"}
                }
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                upstream.request(self.command, self.path, body=body or None, headers=headers)
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in {"transfer-encoding", "content-length", "connection"}:
                        self.send_header(key, value)
                # A HEAD answer tells the object's length, with no body.
                length = response.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            # http.server's names for its handlers.
            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815

        return Handler


@contextmanager
def s3_server() -> Iterator[tuple[str, FlakyProxy]]:
    """Yields the proxy's endpoint URL and the proxy (to make it fail and see what it saw)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's access log
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    # moto keeps its buckets in this process's memory, not per server: without a reset, one
    # test would see the backups an earlier test left.
    urllib.request.urlopen(
        urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"), timeout=10
    ).close()
    proxy = FlakyProxy(upstream=(host, port))
    front = ThreadingHTTPServer(("127.0.0.1", 0), proxy.handler())
    thread = threading.Thread(target=front.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{front.server_address[1]}", proxy
    finally:
        front.shutdown()
        front.server_close()
        moto.stop()
