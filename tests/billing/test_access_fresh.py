"""A change of a retailer's access applies to the very next request, in every process, though
routing remembers the host (and the tenant row it read) for 30 seconds; and the kiosk API, the
busiest path, pays nothing for it."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing import services
from billing.models import SubscriptionStatus
from tenants.models import Tenant, TenantAccess
from tenants.selectors import tenant_for_host
from tests.signup.factories import Kiosk

from .pages import account_for, text_of

pytestmark = pytest.mark.django_db

STORE = {"name": "Lyon", "code": "lyon", "country": "FR", "time_zone": "Europe/Paris"}


def _access_changes(tenant: Tenant, access: str) -> None:
    """What a subscription sync does, in a worker: the row changes, no process forgets it."""
    assert services.access_apply(tenant=Tenant.objects.get(pk=tenant.pk), access=access)


def test_a_suspension_and_a_restoration_are_seen_by_the_next_request(
    owner_client: Client, alice_tenant: Tenant
) -> None:
    account_for(alice_tenant, status=SubscriptionStatus.ACTIVE, invoice="A-1")
    assert owner_client.get("/stores/").status_code == 200  # routing now remembers alice
    _access_changes(alice_tenant, TenantAccess.SUSPENDED)
    # Routing's memory still holds the tenant as it was read: the requests do not rely on it.
    remembered = tenant_for_host(host="alice.localhost")
    assert remembered is not None
    assert remembered.access == TenantAccess.FULL

    refused = owner_client.post("/stores/new/", STORE)
    assert refused.status_code == 403
    assert "Your account is suspended" in text_of(refused)
    page = owner_client.get("/billing/")
    assert "This account is suspended" in text_of(page)  # the banner
    assert "Your account is suspended: the portal is read-only" in text_of(page)

    _access_changes(alice_tenant, TenantAccess.FULL)
    assert owner_client.post("/stores/new/", STORE).status_code == 302
    assert "suspended" not in text_of(owner_client.get("/stores/"))


def test_a_page_reads_the_access_once(owner_client: Client, alice_tenant: Tenant) -> None:
    _access_changes(alice_tenant, TenantAccess.WARNED)
    owner_client.get("/")  # routing remembers the host: what is left is the page's own reads
    with CaptureQueriesContext(connection) as queries:
        page = owner_client.get("/billing/")  # the banner and the page both show it
    assert "The last payment failed." in text_of(page)
    reads = [q["sql"] for q in queries.captured_queries if '"access"' in (q["sql"] or "")]
    assert len(reads) == 1, reads


def test_the_kiosk_api_never_reads_the_access(
    kiosk: Kiosk, alice_client: Client, alice_tenant: Tenant
) -> None:
    _access_changes(alice_tenant, TenantAccess.SUSPENDED)
    payload = {
        "id": "0b8e3c55-5d4e-4b0a-9a55-3d1c2b0a9e12",
        "form_version": kiosk.version.pk,
        "locale": "en",
        "captured_at": datetime.now(UTC).isoformat(),
        "answers": {"email": "shopper@example.com"},
        "consents": {"email": True},
    }
    alice_client.get("/api/kiosk/form", headers=kiosk.headers)  # routing remembers the host
    with CaptureQueriesContext(connection) as queries:
        response = alice_client.post(
            "/api/kiosk/submissions",
            payload,
            content_type="application/json",
            headers=kiosk.headers,
        )
    assert response.status_code == 201, response.content
    tenant_table = Tenant._meta.db_table
    sql = [q["sql"] or "" for q in queries.captured_queries]
    assert sql  # the sign-up was written in this block
    assert [statement for statement in sql if tenant_table in statement] == []
