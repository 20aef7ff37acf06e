"""The submission fast path: same answers as the DRF view, the Redis device cache, the limit."""

import time
import uuid
from typing import Any
from unittest.mock import patch

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from customerinfo.core.caches import BoundedCache
from customerinfo.core.redis import redis_client
from signup import devices, services, submit_fast
from signup.authentication import DeviceRateThrottle
from signup.models import Device, SignupDay, Submission
from signup.services import submissions
from tenants.models import Domain, Tenant
from tenants.schemas import schema_clone
from tests.signup.factories import Kiosk, kiosk_create, submission_body, submission_post

pytestmark = pytest.mark.django_db


def device_reads(queries: CaptureQueriesContext) -> list[str]:
    """The queries that read the device table on their own (not the sign-up's INSERT check)."""
    return [
        query["sql"]
        for query in queries.captured_queries
        if '"signup_device"' in (query["sql"] or "") and "INSERT" not in (query["sql"] or "")
    ]


def test_the_process_remembers_its_tablets(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    with CaptureQueriesContext(connection) as first:
        assert submission_post(alice_client, kiosk, submission_body(kiosk)).status_code == 201
    assert len(device_reads(first)) == 1
    # The next ones are served from memory, and stored all the same.
    payload = submission_body(kiosk)
    with CaptureQueriesContext(connection) as second:
        response = submission_post(alice_client, kiosk, payload)
    assert response.status_code == 201
    assert device_reads(second) == []
    assert len(second.captured_queries) == 1, "one statement per sign-up"
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "POST, OPTIONS"
    with tenant_context(alice_tenant):
        stored = Submission.objects.get(pk=payload["id"])
    assert (stored.device_id, stored.location_id) == (kiosk.device.pk, kiosk.location.pk)
    assert stored.phone == "+33612345678", "the store's country still reads French numbers"


def test_a_till_signing_up_every_ten_minutes_is_read_once(
    alice_client: Client, kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real till's pace: the process must still remember its tablet at the next sign-up.
    now = [0.0]
    remembered = BoundedCache[tuple[int, str], Any](
        max_entries=devices.MAX_ENTRIES, ttl=devices.DEVICE_CACHE_SECONDS, clock=lambda: now[0]
    )
    monkeypatch.setattr(devices, "_known", remembered)
    reads = 0
    for _ in range(6):
        with CaptureQueriesContext(connection) as queries:
            response = submission_post(alice_client, kiosk, submission_body(kiosk))
        assert response.status_code == 201
        reads += len(device_reads(queries))
        now[0] += 600
    assert reads == 1


def test_revoking_locks_out_a_tablet_the_process_remembers(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    assert submission_post(alice_client, kiosk, submission_body(kiosk)).status_code == 201
    with tenant_context(alice_tenant):
        remembered = devices.device_known(token_hash=kiosk.device.token_hash)
        assert remembered is not None
        # Revoked behind this process's back (another process, the portal): it is not told.
        Device.objects.filter(pk=kiosk.device.pk).update(revoked_at=timezone.now())
    payload = submission_body(kiosk)
    response = submission_post(alice_client, kiosk, payload)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response["WWW-Authenticate"] == "Device"
    with tenant_context(alice_tenant):
        assert not Submission.objects.filter(pk=payload["id"]).exists()
        assert devices.device_known(token_hash=kiosk.device.token_hash) is None


@pytest.mark.usefixtures("in_alice")
def test_a_revoked_tablet_stores_nothing_even_from_a_request_already_past_authentication(
    kiosk: Kiosk,
) -> None:
    read_before = kiosk.device
    services.device_revoke(actor=None, device=Device.objects.get(pk=kiosk.device.pk))
    with pytest.raises(services.DeviceRefusedError) as refused:
        services.submission_create(
            device=read_before,
            submission_id=uuid.uuid4(),
            form_version_id=kiosk.version.pk,
            locale="en",
            captured_at=timezone.now(),
            answers={"email": "late@example.com"},
            consents={},
        )
    assert refused.value.status_code == 401
    assert not Submission.objects.filter(email="late@example.com").exists()


def test_a_store_moving_country_is_read_again(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    assert submission_post(alice_client, kiosk, submission_body(kiosk)).status_code == 201
    with tenant_context(alice_tenant):
        services.location_update(
            actor=None,
            location=kiosk.location,
            name=kiosk.location.name,
            country="US",
            time_zone="America/New_York",
            form=None,
        )
        assert devices.device_known(token_hash=kiosk.device.token_hash) is not None, (
            "still remembered with the old country"
        )
    payload = submission_body(kiosk, answers={"email": "a@example.com", "phone": "(201) 555-0123"})
    assert submission_post(alice_client, kiosk, payload).status_code == 201
    with tenant_context(alice_tenant):
        assert Submission.objects.get(pk=payload["id"]).phone == "+12015550123"
        known = devices.device_known(token_hash=kiosk.device.token_hash)
        assert known is not None
        assert known.location.country == "US"


def test_a_remembered_tablet_gets_the_same_field_errors(
    alice_client: Client, kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    """Invalid answers from a tablet the process remembers: the store is read again (it may
    have moved country), found unchanged, and the answers refused as they were."""
    assert submission_post(alice_client, kiosk, submission_body(kiosk)).status_code == 201
    payload = submission_body(kiosk, answers={"email": "not-an-email"})
    response = submission_post(alice_client, kiosk, payload)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["fields"]["email"][0]["code"] == "invalid_email"
    with tenant_context(alice_tenant):
        assert not Submission.objects.filter(pk=payload["id"]).exists()
        assert devices.device_known(token_hash=kiosk.device.token_hash) is not None


@pytest.mark.usefixtures("in_alice")
def test_a_remembered_tablet_reads_its_other_fields_from_the_database(kiosk: Kiosk) -> None:
    devices.device_remember(device=kiosk.device)
    device = devices.device_known(token_hash=kiosk.device.token_hash)
    assert device is not None
    assert device.name == kiosk.device.name, "deferred, not blank"
    assert device.location.name == kiosk.location.name


def test_the_limit_is_decided_on_the_count_all_processes_share(
    kiosk: Kiosk, alice_tenant: Tenant
) -> None:
    """Each process adds its requests to Redis in steps (5 for 100/min), but one that would go
    over the limit adds them first: a tablet spread over two processes is refused at the
    101st request of the window, though the second process saw only 6."""
    token_hash = kiosk.device.token_hash
    with tenant_context(alice_tenant), patch.object(time, "time", return_value=1_800_000_000):
        first = [
            devices.device_count(token_hash=token_hash, limit=100, window=60) for _ in range(95)
        ]
        devices.devices_memory_clear()  # another process, which has counted nothing yet
        second = [
            devices.device_count(token_hash=token_hash, limit=100, window=60) for _ in range(6)
        ]
    assert not any(seen.throttled for seen in first)
    assert [seen.throttled for seen in second] == [False] * 5 + [True]
    assert second[-1].retry_after == 60 - 1_800_000_000 % 60


def test_the_rate_limit_holds_on_the_fast_path_and_is_shared(
    alice_client: Client, kiosk: Kiosk
) -> None:
    rates = {"device": "3/min", "pairing": "10/min"}
    with patch.object(DeviceRateThrottle, "THROTTLE_RATES", rates):
        form = alice_client.get("/api/kiosk/form", headers=kiosk.headers)
        statuses = [submission_post(alice_client, kiosk, submission_body(kiosk)) for _ in range(3)]
    assert form.status_code == 200
    assert [r.status_code for r in statuses] == [201, 201, 429]
    assert statuses[-1].json()["error"]["code"] == "rate_limited"
    assert int(statuses[-1]["Retry-After"]) > 0


def test_alices_token_is_refused_on_charlies_host_even_once_remembered(
    alice_client: Client, charlie_client: Client, kiosk: Kiosk, charlie_tenant: Tenant
) -> None:
    assert submission_post(alice_client, kiosk, submission_body(kiosk)).status_code == 201
    payload = submission_body(kiosk)
    response = submission_post(charlie_client, kiosk, payload)
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
    """One connection, two shops taking turns: each sign-up lands in its own schema, in one
    statement that names it, with no SET search_path, from a plan prepared once per shop."""
    with tenant_context(charlie_tenant):
        charlies = kiosk_create(code="charlie-store")
    sent: dict[str, list[str]] = {"alice": [], "charlie": []}
    tablets = [("alice", alice_client, kiosk), ("charlie", charlie_client, charlies)]
    for name, client, tablet in tablets:  # each process meets each tablet once first
        payload = submission_body(tablet)
        assert submission_post(client, tablet, payload).status_code == 201
        sent[name].append(payload["id"])
    with CaptureQueriesContext(connection) as alternating:
        for _ in range(3):
            for name, client, tablet in tablets:
                payload = submission_body(tablet)
                assert submission_post(client, tablet, payload).status_code == 201
                sent[name].append(payload["id"])
    statements = [query["sql"] or "" for query in alternating.captured_queries]
    assert len(statements) == 6, "one statement per sign-up, whichever shop it is for"
    assert not [sql for sql in statements if "search_path" in sql.lower()]
    for name, tenant in [("alice", alice_tenant), ("charlie", charlie_tenant)]:
        with tenant_context(tenant):
            stored = {str(pk) for pk in Submission.objects.values_list("pk", flat=True)}
            # The daily counts, kept by triggers that name their tables unqualified, are counted
            # in the shop's own schema too, whatever shop the connection served before.
            counted = sum(SignupDay.objects.values_list("signups", flat=True))
        assert stored == set(sent[name]), name
        assert counted == len(sent[name]), name
        # Prepared once on this connection for this shop (with and without the outbox, at
        # most), and its four sign-ups executed from it: not parsed and planned again.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT generic_plans + custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE %s",
                [f'%INSERT INTO "{tenant.schema_name}".signup_submission%'],
            )
            executions = [count for (count,) in cursor.fetchall()]
        assert len(executions) <= 2, name
        assert sum(executions) == 4, name


def test_a_schema_whose_name_needs_quoting_takes_sign_ups(alice_tenant: Tenant) -> None:
    """A schema name with capitals, a hyphen and a dot is quoted, not split or folded."""
    tenant = Tenant.objects.create(
        name="Quoted",
        slug="quoted",
        schema_name="Shop-Quoted.Name",
        owner_email="owner@quoted.example",
        ready=True,
    )
    Domain.objects.create(domain="quoted.localhost", tenant=tenant, is_primary=True)
    schema_clone(source=settings.TENANT_TEMPLATE_SCHEMA, target=tenant.schema_name)
    with tenant_context(tenant):
        tablet = kiosk_create(code="quoted")
    client = Client(HTTP_HOST="quoted.localhost")
    payloads = [submission_body(tablet) for _ in range(2)]
    for payload in payloads:
        assert submission_post(client, tablet, payload).status_code == 201
    with tenant_context(tenant):
        stored = {str(pk) for pk in Submission.objects.values_list("pk", flat=True)}
    assert stored == {payload["id"] for payload in payloads}
    with tenant_context(alice_tenant):
        assert not Submission.objects.filter(pk__in=stored).exists()


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
    payload = data if data is not None else submission_body(kiosk)
    response = alice_client.post(
        "/api/kiosk/submissions",
        payload,
        content_type=content_type,
        headers={**kiosk.headers, **headers},
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"form_version": "FORM"}, "form_version", "invalid"),  # the number, as a string
        ({"id": "ID"}, "id", "invalid"),  # the UUID, as a number
        ({"id": False}, "id", "invalid"),  # DRF alone would read it as the UUID 0
        ({"consents": None}, "consents", "null"),
    ],
)
def test_bodies_of_the_wrong_json_types_are_refused_by_drf(
    alice_client: Client, kiosk: Kiosk, changes: dict[str, Any], field: str, code: str
) -> None:
    """Not the fast path's shape, so DRF answers, and refuses what the schema does not allow."""
    payload = submission_body(kiosk)
    replacements = {"FORM": str(kiosk.version.pk), "ID": uuid.UUID(payload["id"]).int}
    for key, value in changes.items():
        payload[key] = replacements.get(value, value) if isinstance(value, str) else value
    with patch.object(submit_fast, "kiosk_caller", side_effect=AssertionError("fast path")):
        response = submission_post(alice_client, kiosk, payload)
    assert response.status_code == 400
    assert response.json()["error"]["fields"][field][0]["code"] == code


def test_other_methods_go_to_drf(alice_client: Client, kiosk: Kiosk) -> None:
    response = alice_client.get("/api/kiosk/submissions", headers=kiosk.headers)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_body_past_djangos_limit_is_left_to_drf() -> None:
    assert submit_fast._length_ok({"CONTENT_LENGTH": "10"})
    assert not submit_fast._length_ok({"CONTENT_LENGTH": str(10**9)})
    assert not submit_fast._length_ok({"CONTENT_LENGTH": "ten"})


def test_the_schema_still_documents_the_submission(alice_client: Client) -> None:
    schema = alice_client.get("/api/schema/", headers={"Accept": "application/json"}).json()
    operation = schema["paths"]["/api/kiosk/submissions"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "SubmissionInput"
    )
    assert {"200", "201", "400", "401", "409", "413", "429"} <= set(operation["responses"])
    assert operation["security"] == [{"deviceToken": []}]


def test_browser_middlewares_stand_aside_for_the_kiosk_api(
    alice_client: Client, kiosk: Kiosk
) -> None:
    response = submission_post(alice_client, kiosk, submission_body(kiosk))
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
    assert submission_post(tablet, kiosk, submission_body(kiosk)).status_code == 201


# --- bounded memory ------------------------------------------------------------------------------


def test_an_evicted_rate_limit_window_loses_no_count(
    in_alice: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests counted only in the process's memory go to Redis when their window is evicted,
    so a tablet pushed out of memory is still refused at its limit."""
    windows = BoundedCache[tuple[int, str], Any](max_entries=1, on_evict=devices._window_evicted)
    monkeypatch.setattr(devices, "_windows", windows)
    limit, window = 100, 86_400  # a step of 5 requests; a window no test run crosses
    for _ in range(4):  # below the step: counted in memory only
        assert not devices.device_count(token_hash="a", limit=limit, window=window).throttled
    devices.device_count(token_hash="b", limit=limit, window=window)  # pushes "a" out
    assert len(windows) == 1
    now = int(time.time())
    key = devices.counter_key(token_hash="a", window_start=now - now % window)
    stored: Any = redis_client().get(key)
    assert int(stored) == 4
    answers = [
        devices.device_count(token_hash="a", limit=limit, window=window).throttled
        for _ in range(limit - 4 + 1)
    ]
    assert answers.index(True) == limit - 4, "refused at the limit's 101st request, not later"


def test_the_tablets_remembered_are_bounded_and_a_forgotten_one_is_read_again(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(devices, "_known", BoundedCache[tuple[int, str], Any](max_entries=1))
    second = kiosk_create(code="second")
    for tablet in (kiosk, second, kiosk):
        assert submission_post(alice_client, tablet, submission_body(tablet)).status_code == 201
        assert len(devices._known) == 1
    assert devices.device_known(token_hash=second.device.token_hash) is None
    assert devices.device_known(token_hash=kiosk.device.token_hash) is not None


def test_form_versions_kept_are_bounded(
    alice_client: Client, kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = BoundedCache[tuple[int, int], Any](max_entries=1)
    monkeypatch.setattr(submissions, "_versions", versions)
    newer = services.form_publish(actor=None, form=kiosk.form)
    for version in (kiosk.version, newer, kiosk.version):
        payload = {**submission_body(kiosk), "form_version": version.pk}
        assert submission_post(alice_client, kiosk, payload).status_code == 201
        assert [key[1] for key in versions.oldest_first()] == [version.pk]
