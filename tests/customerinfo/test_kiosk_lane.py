"""The kiosk lane answers a tablet's sign-up exactly as the whole chain and the DRF view would.

Each request is sent twice, through the lane and with the lane taken out of MIDDLEWARE (so the
documented DRF view answers it), and the two answers must agree on status, every header and the
body (but for the sign-up's own id and time). A middleware added later that changes the kiosk's
answer, or a change to the view that the lane does not follow, fails here.
"""

import json
import uuid
from collections.abc import Callable
from typing import Any
from unittest.mock import patch

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls.resolvers import URLResolver

from signup.apis import SubmissionApi
from tenants.models import Tenant
from tests.conftest import host_of
from tests.signup.factories import Kiosk, submission_body

pytestmark = pytest.mark.django_db

LANE = "customerinfo.kiosk_lane.KioskLaneMiddleware"
#: Headers that differ between any two answers.
OWN = {"X-Request-ID", "Date"}

Request = Callable[[Kiosk], tuple[dict[str, Any] | str, dict[str, str]]]


def _plain(kiosk: Kiosk) -> tuple[dict[str, Any] | str, dict[str, str]]:
    return submission_body(kiosk), {}


def _set_aside(kiosk: Kiosk) -> tuple[dict[str, Any] | str, dict[str, str]]:
    body = submission_body(kiosk)
    body["answers"]["phone"] = "12"
    return body, {}


def _no_email(kiosk: Kiosk) -> tuple[dict[str, Any] | str, dict[str, str]]:
    body = submission_body(kiosk)
    del body["answers"]["email"]
    return body, {}


def _unknown_version(kiosk: Kiosk) -> tuple[dict[str, Any] | str, dict[str, str]]:
    return submission_body(kiosk, form_version=kiosk.version.pk + 1000), {}


def _unknown_language(kiosk: Kiosk) -> tuple[dict[str, Any] | str, dict[str, str]]:
    return submission_body(kiosk, locale="xx"), {}


def _unknown_token(kiosk: Kiosk) -> tuple[dict[str, Any] | str, dict[str, str]]:
    return submission_body(kiosk), {"Authorization": "Device not-a-token"}


def _not_json(kiosk: Kiosk) -> tuple[dict[str, Any] | str, dict[str, str]]:
    return "{not json", {}


def _no_token(kiosk: Kiosk) -> tuple[dict[str, Any] | str, dict[str, str]]:
    return submission_body(kiosk), {"Authorization": ""}


#: Requests the lane answers itself, and requests it hands down the chain.
ANSWERED: dict[str, Request] = {
    "stored": _plain,
    "answers set aside": _set_aside,
    "no email": _no_email,
    "unknown form version": _unknown_version,
    "unknown language": _unknown_language,
    "unknown token": _unknown_token,
}
HANDED_DOWN: dict[str, Request] = {"not JSON": _not_json, "no token": _no_token}


def _post(
    client: Client,
    kiosk: Kiosk,
    body: dict[str, Any] | str,
    headers: dict[str, str],
    *,
    secure: bool = False,
) -> tuple[Any, int]:
    """The answer, and how many times a URL was resolved on the way (0: the lane answered)."""
    data = body if isinstance(body, str) else json.dumps(body)
    with patch.object(URLResolver, "resolve", autospec=True, side_effect=URLResolver.resolve) as r:
        response = client.post(
            "/api/kiosk/submissions",
            data,
            content_type="application/json",
            headers={**kiosk.headers, **headers},
            secure=secure,
        )
    return response, r.call_count


def _agreeing(response: Any) -> tuple[int, dict[str, str], Any]:
    headers = {name: value for name, value in response.items() if name not in OWN}
    try:
        body = response.json()
    except ValueError:
        return response.status_code, headers, response.content
    if isinstance(body, dict) and "received_at" in body:
        body = {**body, "id": "-", "received_at": "-"}
        headers["Content-Length"] = "-"  # the time's digits may differ in number
    return response.status_code, headers, body


def _fresh(client: Client) -> Client:
    """A client for the same host, whose chain is built from the settings in force."""
    return Client(HTTP_HOST=str(client.defaults["HTTP_HOST"]))


def _without_lane() -> override_settings:
    """Settings without the lane; a client made under them builds its chain without it."""
    return override_settings(MIDDLEWARE=[name for name in settings.MIDDLEWARE if name != LANE])


def _both_ways(request: Request, kiosk: Kiosk, client: Client) -> tuple[Any, Any, int, int]:
    """Both answers, how many URLs the lane's way resolved, and how many times DRF answered
    the other way."""
    body, headers = request(kiosk)
    laned, lane_resolves = _post(client, kiosk, body, headers)
    again = {**body, "id": str(uuid.uuid4())} if isinstance(body, dict) else body
    with (
        _without_lane(),
        patch.object(
            SubmissionApi, "dispatch", autospec=True, side_effect=SubmissionApi.dispatch
        ) as drf,
    ):
        chained, _ = _post(_fresh(client), kiosk, again, headers)
    return laned, chained, lane_resolves, drf.call_count


@pytest.mark.parametrize("name", ANSWERED)
def test_the_lane_answers_as_the_chain_would(name: str, kiosk: Kiosk, alice_client: Client) -> None:
    laned, chained, lane_resolves, drf_answers = _both_ways(ANSWERED[name], kiosk, alice_client)
    assert lane_resolves == 0, "the lane answered"
    assert drf_answers == 1
    assert _agreeing(laned) == _agreeing(chained)


@pytest.mark.parametrize("name", HANDED_DOWN)
def test_what_the_fast_path_does_not_take_goes_down_the_chain(
    name: str, kiosk: Kiosk, alice_client: Client
) -> None:
    laned, chained, lane_resolves, _ = _both_ways(HANDED_DOWN[name], kiosk, alice_client)
    assert lane_resolves == 1, "the view answered"
    assert _agreeing(laned) == _agreeing(chained)


def test_a_repeated_sign_up_gets_the_same_answer_both_ways(
    kiosk: Kiosk, alice_client: Client
) -> None:
    body = submission_body(kiosk)
    first, _ = _post(alice_client, kiosk, body, {})
    assert first.status_code == 201
    laned, lane_resolves = _post(alice_client, kiosk, body, {})
    with _without_lane():
        chained, _ = _post(_fresh(alice_client), kiosk, body, {})
    assert lane_resolves == 0
    assert laned.status_code == chained.status_code == 200
    assert _agreeing(laned) == _agreeing(chained)


def test_hosts_the_lane_does_not_serve_go_down_the_chain(
    kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    for host in ("nowhere.localhost", settings.BASE_DOMAIN, "evil.example"):
        response, _ = _post(Client(HTTP_HOST=host), kiosk, submission_body(kiosk), {})
        with _without_lane():
            chained, _ = _post(Client(HTTP_HOST=host), kiosk, submission_body(kiosk), {})
        assert response.status_code in (400, 404, 405)
        assert _agreeing(response) == _agreeing(chained)


@override_settings(SECURE_SSL_REDIRECT=True)
def test_a_plain_http_sign_up_is_redirected_as_by_the_chain(
    kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    client = Client(HTTP_HOST=host_of(alice_tenant))
    response, _ = _post(client, kiosk, submission_body(kiosk), {})
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


@override_settings(SECURE_HSTS_SECONDS=3600, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_an_https_sign_up_gets_the_same_security_headers(
    kiosk: Kiosk, alice_client: Client
) -> None:
    laned, resolves = _post(alice_client, kiosk, submission_body(kiosk), {}, secure=True)
    with _without_lane():
        client = _fresh(alice_client)
        chained, _ = _post(client, kiosk, submission_body(kiosk), {}, secure=True)
    assert resolves == 0
    assert laned["Strict-Transport-Security"] == "max-age=3600; includeSubDomains"
    assert _agreeing(laned) == _agreeing(chained)
