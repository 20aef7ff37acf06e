from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from customerinfo.core.caches import BoundedCache
from customerinfo.core.redis import redis_client
from customerinfo.core.tenancy import current_schema, tenant_connection
from tenants import selectors
from tenants.models import Tenant
from tests.conftest import PASSWORD
from tests.tenants.factories import DomainFactory, TenantFactory

pytestmark = pytest.mark.django_db


def test_public_host_serves_the_landing_page(public_client: Client) -> None:
    response = public_client.get("/")
    assert response.status_code == 200
    assert b"Shopper sign-ups" in response.content


def test_unknown_host_gets_a_clear_404_page() -> None:
    response = Client(HTTP_HOST="nobody.localhost").get("/")
    assert response.status_code == 404
    assert b"No shop at this address" in response.content
    assert b"nobody.localhost" in response.content


def test_host_outside_allowed_hosts_gets_400_page() -> None:
    response = Client(HTTP_HOST="evil.example.org").get("/")
    assert response.status_code == 400
    assert b"not one we serve" in response.content


def test_tenant_still_provisioning_gets_503_with_retry() -> None:
    DomainFactory.create(
        tenant=TenantFactory.create(slug="soon", name="Soon Shop"), domain="soon.localhost"
    )
    response = Client(HTTP_HOST="soon.localhost").get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"Soon Shop is being set up" in response.content


def test_tenant_whose_provisioning_failed_says_so() -> None:
    tenant = TenantFactory.create(slug="broken", status="failed")
    DomainFactory.create(tenant=tenant, domain="broken.localhost")
    response = Client(HTTP_HOST="broken.localhost:8000").get("/")
    assert response.status_code == 503
    assert b"did not finish" in response.content


def test_tenant_host_routes_to_the_tenant_portal(alice_client: Client) -> None:
    response = alice_client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_page_names_the_tenant(alice_client: Client, alice_tenant: Tenant) -> None:
    response = alice_client.get("/login/")
    assert response.status_code == 200
    assert alice_tenant.name.encode() in response.content.replace(b"&#x27;", b"'")


def test_public_host_has_no_tenant_portal(public_client: Client) -> None:
    assert public_client.get("/forms/").status_code == 404
    # Its "Sign in" asks which shop, and signs no one in itself.
    page = public_client.get("/login/").content.decode()
    assert "Sign in to your shop" in page
    assert 'type="password"' not in page


def test_alices_password_does_not_open_charlies_portal(charlie_client: Client) -> None:
    response = charlie_client.post(
        "/login/", {"username": "alice@alice.example", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert b"Please enter a correct" in response.content


# --- the host map --------------------------------------------------------------------------------


def _map_loaded() -> None:
    selectors.host_cache_clear()
    selectors.tenant_for_host(host="alice.localhost")


def test_the_host_map_is_read_in_one_query_then_served_from_memory(
    alice_tenant: Tenant, charlie_tenant: Tenant
) -> None:
    selectors.host_cache_clear()
    with CaptureQueriesContext(connection) as loading:
        assert selectors.tenant_for_host(host="alice.localhost") == alice_tenant
    reads = [query["sql"] for query in loading.captured_queries]
    assert len(reads) == 1
    assert "tenants_domain" in reads[0]
    with CaptureQueriesContext(connection) as later:
        assert selectors.tenant_for_host(host="charlie.localhost") == charlie_tenant
        assert selectors.tenant_for_host(host="alice.localhost") == alice_tenant
    assert later.captured_queries == []
    assert selectors.hosts_kept() >= 2


def test_reading_the_map_does_not_switch_the_connection_to_public(
    alice_tenant: Tenant, charlie_tenant: Tenant
) -> None:
    tenant_connection().set_tenant(alice_tenant)
    selectors.host_cache_clear()
    with CaptureQueriesContext(connection) as queries:
        assert selectors.tenant_for_host(host="charlie.localhost") == charlie_tenant
        assert selectors.tenant_for_host(host="nobody.localhost") is None
    assert current_schema() == alice_tenant.schema_name
    paths = [q["sql"] for q in queries.captured_queries if "search_path" in (q["sql"] or "")]
    # At most the tenant's own path, which the connection owed anyway; never public alone.
    assert all(alice_tenant.schema_name in path for path in paths), paths


def test_a_change_is_seen_here_at_once_and_announced_to_the_others_after_commit(
    alice_tenant: Tenant, django_capture_on_commit_callbacks: Any
) -> None:
    _map_loaded()
    version_before = redis_client().get(selectors._version_key())
    with django_capture_on_commit_callbacks(execute=True):
        alice_tenant.name = "Alice's Renamed Shop"
        alice_tenant.save()
        routed = selectors.tenant_for_host(host="alice.localhost")
        assert routed is not None
        assert routed.name == "Alice's Renamed Shop"
    assert redis_client().get(selectors._version_key()) != version_before


def test_another_process_change_is_picked_up_at_the_next_version_check(
    alice_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(selectors, "_clock", lambda: clock[0])
    _map_loaded()
    # As another process would: rows written (update() sends no signal), then the version bumped.
    Tenant.objects.filter(pk=alice_tenant.pk).update(name="Changed elsewhere")
    redis_client().incr(selectors._version_key())
    routed = selectors.tenant_for_host(host="alice.localhost")
    assert routed is not None
    assert routed.name == "Alice's Shop", "not before the next check"
    clock[0] += selectors.HOST_VERSION_CHECK_SECONDS
    routed = selectors.tenant_for_host(host="alice.localhost")
    assert routed is not None
    assert routed.name == "Changed elsewhere"


def test_with_an_unchanged_version_the_map_is_not_read_again(
    alice_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(selectors, "_clock", lambda: clock[0])
    _map_loaded()
    clock[0] += 10 * selectors.HOST_VERSION_CHECK_SECONDS
    with CaptureQueriesContext(connection) as queries:
        assert selectors.tenant_for_host(host="alice.localhost") == alice_tenant
    assert queries.captured_queries == []


def test_the_map_keeps_at_most_its_bound_and_still_routes_every_host(
    alice_tenant: Tenant, charlie_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "_hosts", BoundedCache[str, Tenant](max_entries=1))
    monkeypatch.setattr(selectors, "HOSTS_KEPT", 1)
    selectors.host_cache_clear()
    for _ in range(2):
        assert selectors.tenant_for_host(host="alice.localhost") == alice_tenant
        assert selectors.tenant_for_host(host="charlie.localhost") == charlie_tenant
        assert selectors.hosts_kept() == 1
