import pytest
from django.test import Client

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
