"""Every answer under /api/ is JSON in the error shape, whoever makes it; oversize bodies are 413.

The kiosk endpoints themselves are exercised in tests/signup/test_api_hardening.py; here the
middleware and the exception handler meet views that fail on purpose (tests/customerinfo/
api_urls.py) and the answers Django and the host router make before any view runs.
"""

import json
import logging
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.test.client import RequestFactory

from customerinfo.api import ApiMiddleware
from tenants.models import Tenant
from tests.conftest import host_of
from tests.tenants.factories import DomainFactory, TenantFactory

pytestmark = pytest.mark.django_db

LIMIT = 2_621_440  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE, which the project keeps


def error_of(response: Any, status: int) -> dict[str, Any]:
    """The error of a response that must be ``status`` in the API's shape."""
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body: dict[str, Any] = json.loads(response.content)
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str)
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


@pytest.fixture
def faulty(alice_tenant: Tenant) -> Iterator[Client]:
    """Alice's host, with views that fail on purpose, answering 500s as production does."""
    with override_settings(ROOT_URLCONF="tests.customerinfo.api_urls"):
        yield Client(HTTP_HOST=host_of(alice_tenant), raise_request_exception=False)


# --- answers made before or around any view ----------------------------------------------------


def test_an_unknown_api_path_is_a_json_404(alice_client: Client) -> None:
    response = alice_client.get("/api/kiosk/nothing-here")
    assert error_of(response, 404)["code"] == "not_found"
    # What the inner middlewares and the request id add stays on the rewritten answer.
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Request-ID"]
    assert int(response["Content-Length"]) == len(response.content)


def test_pages_outside_the_api_keep_their_html(alice_client: Client) -> None:
    response = alice_client.get("/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "host", ["localhost", "nobody.localhost", "evil.example.org"], ids=["public", "unknown", "bad"]
)
def test_api_paths_on_hosts_without_the_api_answer_json(host: str) -> None:
    response = Client(HTTP_HOST=host).post("/api/kiosk/pair", {}, content_type="application/json")
    expected = {"evil.example.org": (400, "malformed_request")}.get(host, (404, "not_found"))
    assert error_of(response, expected[0])["code"] == expected[1]


def test_a_tenant_being_set_up_answers_503_json_with_retry_after() -> None:
    DomainFactory.create(
        tenant=TenantFactory.create(slug="soon", name="Soon Shop"), domain="soon.localhost"
    )
    response = Client(HTTP_HOST="soon.localhost").get("/api/kiosk/form")
    assert error_of(response, 503)["code"] == "unavailable"
    assert response["Retry-After"] == "5"


def test_a_streamed_error_is_replaced_keeping_its_headers(faulty: Client) -> None:
    response = faulty.get("/api/test/streamed")
    assert error_of(response, 410)["code"] == "error"
    assert response["X-Kept"] == "yes"


def test_wrong_method_is_a_json_405(alice_client: Client) -> None:
    response = alice_client.delete("/api/kiosk/pair")
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert "POST" in response["Allow"]


@pytest.mark.parametrize("path", ["/api/kiosk/pair", "/api/kiosk/nothing-here"])
def test_a_body_past_the_limit_is_413_before_anything_reads_it(
    alice_client: Client, path: str
) -> None:
    response = alice_client.post(path, b"x" * (LIMIT + 1), content_type="application/json")
    assert error_of(response, 413)["code"] == "too_large"


def test_a_body_at_the_limit_is_read(faulty: Client) -> None:
    response = faulty.post("/api/test/echo", b"x" * LIMIT, content_type="text/plain")
    assert response.status_code == 200
    assert len(response.content) == LIMIT


def chunked(body: bytes) -> dict[str, Any]:
    """The environ of a body sent in chunks: no Content-Length, read from the stream."""
    return {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": BytesIO(body)}


def test_a_chunked_body_past_the_limit_is_413(faulty: Client) -> None:
    response = faulty.post(
        "/api/test/echo",
        content_type="text/plain",
        **chunked(b"x" * 3_000_000),
    )
    assert error_of(response, 413)["code"] == "too_large"


def test_a_chunked_body_within_the_limit_reaches_the_view_with_its_length(
    faulty: Client,
) -> None:
    """Django reads a WSGI body only as far as Content-Length says: without the middleware a
    chunked body would arrive empty."""
    response = faulty.post(
        "/api/test/echo",
        content_type="text/plain",
        **chunked(b"hello"),
    )
    assert response.status_code == 200
    assert response.content == b"hello"
    assert response["X-Length"] == "5"


@pytest.mark.parametrize("length", ["ten", "-1"])
def test_a_garbled_content_length_is_malformed(faulty: Client, length: str) -> None:
    response = faulty.post(
        "/api/test/echo", b"{}", content_type="application/json", CONTENT_LENGTH=length
    )
    assert error_of(response, 400)["code"] == "malformed_request"


def asgi_request(body: bytes) -> ASGIRequest:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/kiosk/pair",
        "headers": [(b"transfer-encoding", b"chunked"), (b"content-type", b"application/json")],
    }
    # Seekable, like the spooled file Django's ASGI handler reads a body into.
    return ASGIRequest(scope, BytesIO(body))


def test_under_asgi_a_chunked_body_is_measured_too() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(request.body)

    middleware = ApiMiddleware(view)
    refused = middleware(asgi_request(b"x" * (LIMIT + 1)))
    assert error_of(refused, 413)["code"] == "too_large"
    request = asgi_request(b'{"code": "AAAA-BBBBBB"}')
    answered = middleware(request)
    assert isinstance(answered, HttpResponse)
    assert answered.status_code == 200
    assert answered.content == b'{"code": "AAAA-BBBBBB"}'
    assert request.META["CONTENT_LENGTH"] == "23", "declared, so DRF reads it"


def test_a_request_without_a_body_is_left_alone() -> None:
    seen: list[HttpRequest] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse(b"{}", content_type="application/json")

    request = RequestFactory().get("/api/kiosk/form")
    response = ApiMiddleware(view)(request)
    assert response.status_code == 200
    assert seen == [request]
    assert "CONTENT_LENGTH" not in request.META


# --- exceptions --------------------------------------------------------------------------------


def test_an_exception_outside_drf_is_a_json_500_logged_with_its_traceback(
    faulty: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = faulty.get("/api/test/plain-failure")
    assert error_of(response, 500)["code"] == "server_error"
    logged = [r for r in caplog.records if r.name == "django.request"]
    assert len(logged) == 1, "Django logs it; the rewritten answer is not logged again"
    assert logged[0].exc_info is not None
    assert "a plain view failed" in str(logged[0].exc_info[1])


def test_an_exception_in_a_drf_view_is_a_json_500_logged_once_with_its_traceback(
    faulty: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = faulty.get("/api/test/drf-failure")
    assert error_of(response, 500)["code"] == "server_error"
    logged = [r for r in caplog.records if r.name == "django.request"]
    assert len(logged) == 1, "the handler logs it, and Django does not log the answer again"
    assert logged[0].exc_info is not None
    assert "a DRF view failed" in str(logged[0].exc_info[1])


def test_outside_the_api_an_exception_keeps_djangos_page(faulty: Client) -> None:
    response = faulty.get("/test/plain-failure")
    assert response.status_code == 500
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/test/drf-suspicious", 400, "malformed_request"),
        ("/api/test/drf-too-big", 413, "too_large"),
        ("/api/test/plain-too-big", 413, "too_large"),
    ],
)
def test_what_django_finds_suspicious_keeps_its_4xx(
    faulty: Client, path: str, status: int, code: str
) -> None:
    assert error_of(faulty.get(path), status)["code"] == code
