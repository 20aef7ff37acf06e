"""The submission fast path: same answers as the DRF view, the Redis device cache, the limit."""

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from unittest.mock import patch

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from customerinfo.redis import redis_client
from signup import apis, devices, services
from signup.authentication import DeviceRateThrottle
from signup.models import Submission
from tenants.models import Tenant
from tests.signup.factories import Kiosk, kiosk_create
from tests.signup.test_apis import body, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def kiosk(alice_tenant: Tenant) -> Iterator[Kiosk]:
    with tenant_context(alice_tenant):
        yield kiosk_create()


def cached(tenant: Tenant, kiosk: Kiosk) -> bytes | None:
    with tenant_context(tenant):
        key = devices.device_key(token_hash=kiosk.device.token_hash)
    value = redis_client().get(key)
    assert value is None or isinstance(value, bytes)
    return value


def test_a_submission_remembers_its_tablet_in_redis(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    assert cached(alice_tenant, kiosk) is None
    assert submit(alice_client, kiosk, body(kiosk)).status_code == 201
    value = cached(alice_tenant, kiosk)
    assert value is not None
    device_id, location_id, country = value.decode().split(":")
    assert (int(device_id), int(location_id), country) == (
        kiosk.device.pk,
        kiosk.location.pk,
        "FR",
    )
    # The second one is served from the cache, and stored all the same.
    payload = body(kiosk)
    response = submit(alice_client, kiosk, payload)
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "POST, OPTIONS"
    with tenant_context(alice_tenant):
        stored = Submission.objects.get(pk=payload["id"])
    assert (stored.device_id, stored.location_id) == (kiosk.device.pk, kiosk.location.pk)
    assert stored.phone == "+33612345678", "the store's country still reads French numbers"


def test_revoking_locks_out_a_tablet_its_cache_remembers(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    assert submit(alice_client, kiosk, body(kiosk)).status_code == 201
    with tenant_context(alice_tenant):
        services.device_revoke(actor=None, device=kiosk.device)
    assert cached(alice_tenant, kiosk) == devices.REVOKED
    response = submit(alice_client, kiosk, body(kiosk))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response["WWW-Authenticate"] == "Device"


def test_a_late_cache_write_cannot_bring_back_a_revoked_tablet(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    # A request read the device just before the revoke and writes it to the cache just after.
    with tenant_context(alice_tenant):
        services.device_revoke(actor=None, device=kiosk.device)
        devices.device_cache_fill(device=kiosk.device)
    assert cached(alice_tenant, kiosk) == devices.REVOKED
    assert submit(alice_client, kiosk, body(kiosk)).status_code == 401


def test_once_the_marker_expires_the_database_still_refuses(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        services.device_revoke(actor=None, device=kiosk.device)
        redis_client().delete(devices.device_key(token_hash=kiosk.device.token_hash))
    assert submit(alice_client, kiosk, body(kiosk)).status_code == 401
    assert cached(alice_tenant, kiosk) is None, "a refused token is not remembered"


def test_a_revoke_that_cannot_reach_redis_changes_nothing(
    kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    with (
        tenant_context(alice_tenant),
        patch.object(services, "device_cache_revoke", side_effect=ConnectionError("down")),
        pytest.raises(ConnectionError),
    ):
        services.device_revoke(actor=None, device=kiosk.device)
    with tenant_context(alice_tenant):
        kiosk.device.refresh_from_db()
    assert kiosk.device.revoked_at is None


def test_a_store_moving_country_is_read_again(
    alice_client: Client,
    kiosk: Kiosk,
    alice_tenant: Tenant,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    assert submit(alice_client, kiosk, body(kiosk)).status_code == 201
    with tenant_context(alice_tenant), django_capture_on_commit_callbacks(execute=True):
        services.location_update(
            actor=None,
            location=kiosk.location,
            name=kiosk.location.name,
            country="US",
            time_zone="America/New_York",
            form=None,
        )
    assert cached(alice_tenant, kiosk) is None
    payload = body(kiosk, answers={"email": "a@example.com", "phone": "(201) 555-0123"})
    assert submit(alice_client, kiosk, payload).status_code == 201
    with tenant_context(alice_tenant):
        assert Submission.objects.get(pk=payload["id"]).phone == "+12015550123"


def test_forgetting_a_store_keeps_its_revoked_markers(kiosk: Kiosk, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        other = kiosk_create(code="other")
        services.device_revoke(actor=None, device=kiosk.device)
        devices.device_cache_fill(device=other.device)
        devices.device_cache_forget(token_hashes=[kiosk.device.token_hash, other.device.token_hash])
    assert cached(alice_tenant, kiosk) == devices.REVOKED
    assert cached(alice_tenant, other) is None


def test_a_cached_tablet_reads_its_other_fields_from_the_database(
    kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        devices.device_cache_fill(device=kiosk.device)
        seen = devices.device_cache_read_and_count(token_hash=kiosk.device.token_hash, window=60)
        assert seen.device is not None
        assert seen.device.name == kiosk.device.name, "deferred, not blank"
        assert seen.device.location.name == kiosk.location.name


def test_the_rate_limit_holds_on_the_fast_path_and_is_shared(
    alice_client: Client, kiosk: Kiosk
) -> None:
    rates = {"device": "3/min", "pairing": "10/min"}
    with patch.object(DeviceRateThrottle, "THROTTLE_RATES", rates):
        form = alice_client.get("/api/kiosk/form", headers=kiosk.headers)
        statuses = [submit(alice_client, kiosk, body(kiosk)) for _ in range(3)]
    assert form.status_code == 200
    assert [r.status_code for r in statuses] == [201, 201, 429]
    assert statuses[-1].json()["error"]["code"] == "rate_limited"
    assert int(statuses[-1]["Retry-After"]) > 0


def test_alices_token_is_refused_on_charlies_host_even_once_remembered(
    alice_client: Client, charlie_client: Client, kiosk: Kiosk, charlie_tenant: Tenant
) -> None:
    assert submit(alice_client, kiosk, body(kiosk)).status_code == 201
    payload = body(kiosk)
    response = submit(charlie_client, kiosk, payload)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    with tenant_context(charlie_tenant):
        assert not Submission.objects.filter(pk=payload["id"]).exists()


def test_prepared_inserts_follow_the_tenant(
    alice_client: Client,
    charlie_client: Client,
    kiosk: Kiosk,
    alice_tenant: Tenant,
    charlie_tenant: Tenant,
) -> None:
    """One connection, one prepared INSERT, two schemas: each sign-up lands in its own."""
    with tenant_context(charlie_tenant):
        charlies = kiosk_create(code="charlie-store")
    sent: dict[str, list[str]] = {"alice": [], "charlie": []}
    for _ in range(3):
        for name, client, tablet in [
            ("alice", alice_client, kiosk),
            ("charlie", charlie_client, charlies),
        ]:
            payload = body(tablet)
            assert submit(client, tablet, payload).status_code == 201
            sent[name].append(payload["id"])
    for name, tenant in [("alice", alice_tenant), ("charlie", charlie_tenant)]:
        with tenant_context(tenant):
            stored = {str(pk) for pk in Submission.objects.values_list("pk", flat=True)}
        assert stored == set(sent[name]), name
    # Prepared once on this connection (with and without the outbox), and six sign-ups executed
    # from them: not parsed and planned again each time.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE %s",
            ["%INSERT INTO signup_submission%"],
        )
        executions = [count for (count,) in cursor.fetchall()]
    assert len(executions) <= 2
    assert sum(executions) == 6


@pytest.mark.parametrize(
    ("headers", "content_type", "data", "status", "code"),
    [
        ({}, "application/json", "{nope", 400, "malformed_request"),
        ({}, "application/json", '{"id": NaN}', 400, "malformed_request"),
        ({}, "text/plain", "{}", 415, "unsupported_media_type"),
        ({"Accept": "text/html"}, "application/json", None, 406, "not_acceptable"),
        ({"Authorization": ""}, "application/json", None, 401, "not_authenticated"),
        ({"Authorization": "Device é"}, "application/json", None, 401, "authentication_failed"),
        ({}, "application/json", "[]", 400, "validation_failed"),
    ],
)
def test_what_the_fast_path_hands_over_gets_drfs_answer(
    alice_client: Client,
    kiosk: Kiosk,
    *,
    headers: dict[str, str],
    content_type: str,
    data: str | None,
    status: int,
    code: str,
) -> None:
    payload = data if data is not None else body(kiosk)
    response = alice_client.post(
        "/api/kiosk/submissions",
        payload,
        content_type=content_type,
        headers={**kiosk.headers, **headers},
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    "changes",
    [
        {"form_version": "FORM"},  # a string DRF turns into the number
        {"id": "ID"},  # a UUID as a number
        {"locale": " fr "},  # trimmed by the serializer
        {"consents": None},
    ],
)
def test_unusual_but_valid_bodies_are_served_by_drf(
    alice_client: Client, kiosk: Kiosk, changes: dict[str, Any]
) -> None:
    payload = body(kiosk)
    replacements = {"FORM": str(kiosk.version.pk), "ID": uuid.UUID(payload["id"]).int}
    for key, value in changes.items():
        payload[key] = replacements.get(value, value) if isinstance(value, str) else value
    with patch.object(apis, "kiosk_caller", side_effect=AssertionError("fast path")):
        response = submit(alice_client, kiosk, payload)
    if payload.get("consents", {}) is None:
        assert response.json()["error"]["fields"]["consents"][0]["code"] == "null"
    else:
        assert response.status_code == 201, response.json()


def test_other_methods_go_to_drf(alice_client: Client, kiosk: Kiosk) -> None:
    response = alice_client.get("/api/kiosk/submissions", headers=kiosk.headers)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_body_past_djangos_limit_is_left_to_drf() -> None:
    assert apis._length_ok({"CONTENT_LENGTH": "10"})
    assert not apis._length_ok({"CONTENT_LENGTH": str(10**9)})
    assert not apis._length_ok({"CONTENT_LENGTH": "ten"})


def test_the_schema_still_documents_the_submission(alice_client: Client) -> None:
    schema = alice_client.get("/api/schema/", headers={"Accept": "application/json"}).json()
    operation = schema["paths"]["/api/kiosk/submissions"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "SubmissionInput"
    )
    assert {"200", "201", "400", "401", "409", "429"} <= set(operation["responses"])
    assert operation["security"] == [{"deviceToken": []}]


def test_browser_middlewares_stand_aside_for_the_kiosk_api(
    alice_client: Client, kiosk: Kiosk
) -> None:
    response = submit(alice_client, kiosk, body(kiosk))
    assert response.status_code == 201
    request = response.wsgi_request
    assert not hasattr(request, "session")
    assert not hasattr(request, "user")
    assert not response.cookies
    # What every answer carries still does.
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Request-ID"]


def test_browser_pages_keep_their_middlewares(alice_client: Client) -> None:
    response = alice_client.get("/login/")
    assert response.status_code == 200
    assert hasattr(response.wsgi_request, "session")
    assert hasattr(response.wsgi_request, "user")
    assert "csrftoken" in response.cookies


def test_a_tablet_needs_no_csrf_token(alice_tenant: Tenant, kiosk: Kiosk) -> None:
    # The test client skips CSRF checks unless told; a tablet has no cookie to ride on anyway.
    tablet = Client(enforce_csrf_checks=True, HTTP_HOST=str(alice_tenant.get_primary_domain()))
    assert submit(tablet, kiosk, body(kiosk)).status_code == 201
