"""No input breaks the kiosk API: generated from its own OpenAPI schema, with a real tablet.

schemathesis builds requests from ``/api/schema/`` (bodies the schema allows, and bodies it
forbids) and sends them through the WSGI app with a paired tablet's token. Every answer must be
one the schema documents, never a 5xx, in the error shape when it is an error, and a request the
schema forbids must be refused: the schema is exactly as strict as the server, checked both ways.

The operations are driven by hypothesis directly rather than by schemathesis' pytest plugin,
whose lazy fixtures do not run under pytest 9.
"""

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.schemas import OpenApiSchema

from signup.authentication import DeviceRateThrottle
from tenants.models import Tenant
from tests.conftest import host_of
from tests.signup.factories import Kiosk, kiosk_create

pytestmark = pytest.mark.django_db

#: Bounded: every operation in both modes, on two cores, in a few seconds each.
EXAMPLES = 30
OPERATIONS = [
    ("POST", "/api/kiosk/pair"),
    ("GET", "/api/kiosk/form"),
    ("POST", "/api/kiosk/submissions"),
    ("POST", "/api/kiosk/submissions/check"),
    ("POST", "/api/kiosk/rejections"),
    ("POST", "/api/kiosk/heartbeat"),
]


@pytest.fixture
def kiosk(alice_tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kiosk]:
    # The fuzzer sends hundreds of requests: past the tablet's rate limit it would only see 429.
    monkeypatch.setattr(DeviceRateThrottle, "THROTTLE_RATES", {"device": "100000/min"})
    with tenant_context(alice_tenant):
        yield kiosk_create()


@pytest.fixture
def kiosk_api(alice_tenant: Tenant, kiosk: Kiosk) -> Iterator[OpenApiSchema]:
    # As Django's test client does: a request must not close the connection that holds the
    # test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        headers = {"Host": host_of(alice_tenant), "Accept": "application/json"}
        schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler(), headers=headers)
        # A body over the API's size limit is refused with 413 before it is parsed: as much a
        # rejection of bad input as a 400, though not in the check's default list.
        rejection = schema.config.checks.negative_data_rejection
        rejection.expected_statuses = [*rejection.expected_statuses, "413"]
        yield schema
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_a_body_over_the_size_limit_counts_as_refused(kiosk_api: OpenApiSchema) -> None:
    operation = kiosk_api["/api/kiosk/rejections"]["POST"]
    for phase in ("examples", "coverage", "fuzzing"):
        config = kiosk_api.config.checks_config_for(operation=operation, phase=phase)
        assert "413" in config.negative_data_rejection.expected_statuses
        assert "400" in config.negative_data_rejection.expected_statuses


def test_the_schema_lists_every_kiosk_operation(kiosk_api: OpenApiSchema) -> None:
    results = list(kiosk_api.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), "every operation's schema is valid"
    listed = {(operation.method.upper(), operation.path) for operation in operations}
    assert set(OPERATIONS) <= listed


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("route", OPERATIONS)
def test_no_input_breaks_the_kiosk_api(
    kiosk_api: OpenApiSchema,
    kiosk: Kiosk,
    alice_tenant: Tenant,
    route: tuple[str, str],
    mode: GenerationMode,
) -> None:
    method, path = route
    operation = kiosk_api[path][method]
    host = host_of(alice_tenant)
    seen: set[int] = set()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        # The host is part of the request; the token is handed over as the caller's own, so that
        # the checks that replay the request without it (or with a wrong one) keep the host.
        case.headers = {**(case.headers or {}), "Host": host}
        response = case.call(headers=kiosk.headers)
        seen.add(response.status_code)
        assert response.status_code < 500, response.text
        case.validate_response(
            response,
            headers=kiosk.headers,
            # A body the schema allows may name a form version that does not exist: the
            # server's rules go further than a schema can say (a documented 400).
            excluded_checks=[schemathesis.checks.positive_data_acceptance],
        )
        if response.status_code >= 400:
            body = response.json()
            assert set(body) == {"error"}, body
            assert body["error"]["code"], body

    check()
    assert seen, "the fuzzer sent nothing"
