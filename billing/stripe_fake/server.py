"""The fake on the wire: a threaded HTTP server on loopback, and the API's front door.

Every request, whatever the route, first lets the fake catch up with real time (work due by now
is done), so a person who just waits in a browser sees trials end as they would. ``/v1/…`` then
goes through the guards (key, rate limit, idempotency) to the routes; ``/_fake/…`` to the
controls; anything else to the hosted pages.
"""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

from .api import dispatch
from .control import Controls, Recorded
from .guards import Idempotency, Stored, api_key
from .pages import serve
from .params import Params
from .state import API_VERSION, StripeError, new_id
from .webhooks import DEFAULT_RETRY_DELAYS
from .wire import Reply, Request, html_reply, json_reply

logger = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (a test that gave up) is not the fake's failure.
        logger.debug("Stripe fake: a connection from %s ended early", client_address)


class StripeFake(Controls):
    """Start it, point ``StripeClient(base_addresses=…)`` at ``url``, stop it when done."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        rate_limit: float | None = None,
        retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
        tick_seconds: float | None = None,
    ) -> None:
        super().__init__(retry_delays=retry_delays)
        self.idempotency = Idempotency()
        self.limits.per_second = rate_limit
        self.tick_seconds = tick_seconds
        self._stopped = threading.Event()
        self._server = _Server((host, port), self._handler_class())
        self.store.base_url = self.url
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="stripe-fake-http",
                daemon=True,
            )
        ]
        if tick_seconds:
            self._threads.append(
                threading.Thread(target=self._tick, name="stripe-fake-clock", daemon=True)
            )
        if webhook_url:
            self.add_webhook_endpoint(webhook_url, webhook_secret)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self.webhooks.start()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self.webhooks.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tick(self) -> None:
        """For ``make run``: the clock's work happens even while nobody makes a request."""
        while not self._stopped.wait(self.tick_seconds):
            self.catch_up()

    # --- requests -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        self.catch_up()
        if request.path.startswith("/v1/"):
            return self._api(request)
        if request.path == "/_fake" or request.path.startswith("/_fake/"):
            return self.control(request)
        with self.store.lock:
            page = serve(self.store, request)
        return page or html_reply(404, "<!doctype html><title>Not found</title><p>Not found.</p>")

    def _api(self, request: Request) -> Reply:
        request_id = new_id("req", 14)
        try:
            key = api_key(request.header("Authorization"))
            with self.store.lock:
                self.limits.check(key)
                return self._run(request, key, request_id)
        except StripeError as error:
            version = request.header("Stripe-Version") or API_VERSION
            self._record(request, error.status, version, request.header("Idempotency-Key") or None)
            headers = {**error.headers, "Request-Id": request_id}
            return json_reply(error.status, error.body(), headers)

    def _run(self, request: Request, key: str, request_id: str) -> Reply:
        """Runs one authorised API call under the store's lock, or replays its stored answer."""
        version = request.header("Stripe-Version") or API_VERSION
        # Stripe ignores the key on GET and DELETE: reads are safe to repeat anyway.
        idempotency_key = None
        if request.method == "POST":
            idempotency_key = request.header("Idempotency-Key") or None
        params = request.params()
        fingerprint = (request.method, request.path, json.dumps(params, sort_keys=True))
        base = {"Request-Id": request_id, "Stripe-Version": version}
        if idempotency_key is not None:
            stored = self.idempotency.lookup(
                (key, idempotency_key), fingerprint, self.store.clock.now()
            )
            if stored is not None:
                self._record(request, stored.status, version, idempotency_key, replayed=True)
                replay = {**stored.headers, **base, "Idempotent-Replayed": "true"}
                replay["Original-Request"] = stored.request_id
                return json_reply(stored.status, stored.body, replay)
        self.store.request_id, self.store.idempotency_key = request_id, idempotency_key
        try:
            status, body, extra = (
                200,
                dispatch(self.store, request.method, request.path, Params(params)),
                {},
            )
        except StripeError as error:
            status, body, extra = error.status, error.body(), error.headers
        except Exception:
            logger.exception("Stripe fake: %s %s failed", request.method, request.path)
            status, body, extra = (
                500,
                StripeError(500, "The Stripe fake failed.", type="api_error").body(),
                {},
            )
        finally:
            self.store.request_id = self.store.idempotency_key = None
        if idempotency_key is not None:
            answer = Stored(fingerprint, status, body, extra, self.store.clock.now(), request_id)
            self.idempotency.keep((key, idempotency_key), answer)
        self._record(request, status, version, idempotency_key)
        return json_reply(status, body, {**extra, **base})

    def _record(
        self,
        request: Request,
        status: int,
        version: str,
        key: str | None,
        *,
        replayed: bool = False,
    ) -> None:
        self.requests.append(Recorded(request.method, request.path, status, version, key, replayed))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes; with Nagle on, a keep-alive client's
            # delayed ACK holds the second for 40 ms, on every request.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                logger.debug("Stripe fake: " + format, *args)

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parts.query,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                reply = fake.handle(request)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815 - http.server's naming

        return Handler
