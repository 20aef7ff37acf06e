"""No input breaks the kiosk API: hostile bodies get a 4xx in the error shape, never a 500,
and the pairing rate limit cannot be escaped by writing X-Forwarded-For.

Written against docs/kiosk-api.md: every error is ``{"error": {"code", "message"}}``, a body
that cannot be used is 400 ``malformed_request`` or 413 ``too_large``, a tablet that is not
paired gets 401.
"""

import json
import uuid
from io import BytesIO
from typing import Any
from unittest.mock import patch

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from signup import services
from signup.authentication import PairingRateThrottle, pairing_ident
from tenants.models import Tenant
from tests.signup.factories import Kiosk

pytestmark = pytest.mark.django_db

#: The POST endpoints, each with a body it would accept from a paired tablet.
POSTS = [
    "/api/kiosk/pair",
    "/api/kiosk/submissions",
    "/api/kiosk/submissions/check",
    "/api/kiosk/rejections",
    "/api/kiosk/heartbeat",
]
DEEP_ARRAY = b"[" * 1_000 + b"]" * 1_000
DEEP_OBJECT = b'{"a":' * 1_000 + b"1" + b"}" * 1_000
TOO_LARGE = 3_000_000


def sign_up(kiosk: Kiosk, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "form_version": kiosk.version.pk,
        "locale": "fr",
        "captured_at": timezone.now().isoformat(),
        "answers": {"email": "ann@example.com"},
        "consents": {"email": True},
    }
    return {**payload, **changes}


def error_of(response: Any, *statuses: int) -> dict[str, Any]:
    """The error of an answer that must be one of ``statuses``, in the API's shape."""
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert isinstance(error["code"], str)
    assert error["message"]
    return error


def chunked(body: bytes) -> dict[str, Any]:
    """The environ of a body sent in chunks: no Content-Length, read from the stream."""
    return {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": BytesIO(body)}


def post_raw(client: Client, path: str, raw: bytes, headers: dict[str, str]) -> Any:
    return client.post(path, raw, content_type="application/json", headers=headers)


# --- bodies nested past any reason -------------------------------------------------------------


@pytest.mark.parametrize("raw", [DEEP_ARRAY, DEEP_OBJECT], ids=["arrays", "objects"])
@pytest.mark.parametrize("path", POSTS)
def test_a_deeply_nested_body_from_a_paired_tablet_is_malformed(
    alice_client: Client, kiosk: Kiosk, path: str, raw: bytes
) -> None:
    response = post_raw(alice_client, path, raw, kiosk.headers)
    assert error_of(response, 400)["code"] == "malformed_request"


@pytest.mark.parametrize("raw", [DEEP_ARRAY, DEEP_OBJECT], ids=["arrays", "objects"])
@pytest.mark.parametrize("authorization", ["", "Device not-a-token"])
@pytest.mark.parametrize("path", POSTS)
def test_a_deeply_nested_body_without_a_valid_token_is_refused_cleanly(
    alice_client: Client, path: str, raw: bytes, authorization: str
) -> None:
    """Pairing reads the body (400); the others may refuse the token first (401)."""
    headers = {"Authorization": authorization} if authorization else {}
    error = error_of(post_raw(alice_client, path, raw, headers), 400, 401)
    assert error["code"] in {"malformed_request", "not_authenticated", "authentication_failed"}
    if path == "/api/kiosk/pair":
        assert error["code"] == "malformed_request"


def test_a_deep_answer_inside_a_plain_sign_up_is_malformed(
    alice_client: Client, kiosk: Kiosk
) -> None:
    """The fast path reads bodies that look like a tablet's, before it asks for the token."""
    deep = json.loads(b"[" * 40 + b"]" * 40)
    payload = json.dumps(sign_up(kiosk, answers={"email": "a@example.com", "note": deep}))
    response = post_raw(alice_client, "/api/kiosk/submissions", payload.encode(), kiosk.headers)
    assert error_of(response, 400)["code"] == "malformed_request"
    stranger = {"Authorization": "Device not-a-token"}
    refused = post_raw(alice_client, "/api/kiosk/submissions", payload.encode(), stranger)
    assert error_of(refused, 400, 401)["code"] in {"malformed_request", "authentication_failed"}


@pytest.mark.parametrize(
    "raw",
    [b'{"queue_depth": 1e999}', b'{"queue_depth": NaN}', b'{"code": Infinity}', b"\xff{}"],
)
@pytest.mark.parametrize("path", ["/api/kiosk/pair", "/api/kiosk/heartbeat"])
def test_numbers_json_does_not_have_and_bad_utf8_are_malformed(
    alice_client: Client, kiosk: Kiosk, path: str, raw: bytes
) -> None:
    response = post_raw(alice_client, path, raw, kiosk.headers)
    assert error_of(response, 400)["code"] == "malformed_request"


# --- numbers past what a column holds (the serializers bound them) -----------------------------


@pytest.mark.parametrize("depth", [2**31, 2**63, 10**30])
def test_a_huge_queue_depth_is_no_500(alice_client: Client, kiosk: Kiosk, depth: int) -> None:
    response = alice_client.post(
        "/api/kiosk/heartbeat",
        {"app_version": "1", "queue_depth": depth},
        content_type="application/json",
        headers=kiosk.headers,
    )
    # The contract bounds counts (0 to 1,000,000): refused, or recorded within the bound.
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        error = error_of(response, 400)
        assert error["code"] == "validation_failed"
        assert "queue_depth" in error["fields"]


@pytest.mark.parametrize("version", [2**31, 2**63, -(2**63) - 1, 10**30])
def test_a_form_version_past_bigint_is_refused(
    alice_client: Client, kiosk: Kiosk, version: int
) -> None:
    payload = json.dumps(sign_up(kiosk, form_version=version)).encode()
    response = post_raw(alice_client, "/api/kiosk/submissions", payload, kiosk.headers)
    assert error_of(response, 400)["code"] in {"validation_failed", "unknown_form_version"}


# --- bodies past the limit ---------------------------------------------------------------------


@pytest.mark.parametrize("with_token", [True, False])
@pytest.mark.parametrize("path", POSTS)
def test_a_body_past_the_limit_is_413(
    alice_client: Client, kiosk: Kiosk, path: str, with_token: bool
) -> None:
    raw = b'{"pad": "' + b"x" * TOO_LARGE + b'"}'
    response = post_raw(alice_client, path, raw, kiosk.headers if with_token else {})
    assert error_of(response, 413)["code"] == "too_large"


@pytest.mark.parametrize("path", POSTS)
def test_a_chunked_body_past_the_limit_is_413(
    alice_client: Client, kiosk: Kiosk, path: str
) -> None:
    response = alice_client.post(
        path,
        content_type="application/json",
        headers=kiosk.headers,
        **chunked(b"[" + b"1," * (TOO_LARGE // 2) + b"1]"),
    )
    assert error_of(response, 413)["code"] == "too_large"


def test_a_chunked_pairing_within_the_limit_pairs(
    alice_client: Client, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        location = services.location_create(
            actor=None, name="Rivoli", code="rivoli", country="FR", time_zone="Europe/Paris"
        )
        _, code = services.pairing_code_create(actor=None, location=location, device_name="Till")
    response = alice_client.post(
        "/api/kiosk/pair",
        content_type="application/json",
        **chunked(json.dumps({"code": code}).encode()),
    )
    assert response.status_code == 201, response.content


# --- paths and methods -------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/kiosk/unknown", "/api/kiosk/form/", "/api/v2/kiosk/pair"])
def test_an_unknown_api_path_is_a_json_404(alice_client: Client, kiosk: Kiosk, path: str) -> None:
    response = alice_client.post(path, {}, content_type="application/json", headers=kiosk.headers)
    assert error_of(response, 404)["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/kiosk/pair"),
        ("put", "/api/kiosk/heartbeat"),
        ("delete", "/api/kiosk/submissions"),
        ("patch", "/api/kiosk/form"),
    ],
)
def test_a_wrong_method_is_a_json_405(
    alice_client: Client, kiosk: Kiosk, method: str, path: str
) -> None:
    response = getattr(alice_client, method)(
        path, content_type="application/json", headers=kiosk.headers
    )
    assert error_of(response, 405)["code"] == "method_not_allowed"


# --- the pairing rate limit and X-Forwarded-For ------------------------------------------------

FEW = {"pairing": "3/min", "device": "120/min"}


def pair_attempt(client: Client, forwarded: str | None = None) -> int:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    response = client.post(
        "/api/kiosk/pair", {"code": "AAAA-BBBBBB"}, content_type="application/json", headers=headers
    )
    status: int = response.status_code
    return status


def test_rotating_x_forwarded_for_does_not_escape_the_pairing_limit(alice_client: Client) -> None:
    with patch.object(PairingRateThrottle, "THROTTLE_RATES", FEW):
        statuses = [pair_attempt(alice_client, f"203.0.113.{n}") for n in range(5)]
    assert statuses == [400, 400, 400, 429, 429]


@override_settings(TRUSTED_PROXIES=["127.0.0.0/8"])  # the test client's REMOTE_ADDR
def test_behind_a_trusted_proxy_clients_are_counted_apart(alice_client: Client) -> None:
    with patch.object(PairingRateThrottle, "THROTTLE_RATES", FEW):
        first = [pair_attempt(alice_client, "203.0.113.1") for _ in range(4)]
        second = [pair_attempt(alice_client, "203.0.113.2") for _ in range(4)]
    assert first == [400, 400, 400, 429]
    assert second == [400, 400, 400, 429]


@override_settings(TRUSTED_PROXIES=["127.0.0.0/8"])
def test_behind_a_trusted_proxy_a_spoofed_leftmost_entry_is_ignored(alice_client: Client) -> None:
    with patch.object(PairingRateThrottle, "THROTTLE_RATES", FEW):
        statuses = [pair_attempt(alice_client, f"198.51.100.{n}, 203.0.113.1") for n in range(5)]
    assert statuses == [400, 400, 400, 429, 429]


@override_settings(TRUSTED_PROXIES=["127.0.0.0/8"])
def test_one_ipv6_subscriber_cannot_rotate_through_its_prefix(alice_client: Client) -> None:
    with patch.object(PairingRateThrottle, "THROTTLE_RATES", FEW):
        statuses = [pair_attempt(alice_client, f"2001:db8:1:2::{n:x}") for n in range(1, 5)]
        elsewhere = pair_attempt(alice_client, "2001:db8:1:3::1")
    assert statuses == [400, 400, 400, 429]
    assert elsewhere == 400


def test_pairing_is_counted_per_ipv4_address_and_per_ipv6_64() -> None:
    assert pairing_ident("203.0.113.9") == "203.0.113.9"
    assert pairing_ident("2001:db8:1:2::1") == pairing_ident("2001:db8:1:2:ffff::9")
    assert pairing_ident("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert pairing_ident("2001:db8:1:3::1") != pairing_ident("2001:db8:1:2::1")
