import pytest
from django.test import Client

from customerinfo.core.accounts.models import User
from tenants.models import Tenant
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db


def test_owner_signs_in_and_sees_their_portal(alice_client: Client, alice_tenant: Tenant) -> None:
    response = alice_client.post(
        "/login/", {"username": "alice@alice.example", "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert b"alice@alice.example (Owner)" in response.content
    assert b"Team members</dt><dd>1<" in response.content


def test_team_member_counts_in_portal(
    alice_client: Client, alice_tenant: Tenant, alice: User, bob: User
) -> None:
    login(alice_client, alice_tenant, bob)
    response = alice_client.get("/")
    assert b"bob@alice.example (Manager)" in response.content
    assert b"Team members</dt><dd>2<" in response.content


def test_charlie_sees_nothing_of_alices_team(
    charlie_client: Client, charlie_tenant: Tenant, charlie: User, bob: User
) -> None:
    login(charlie_client, charlie_tenant, charlie)
    response = charlie_client.get("/")
    assert b"Team members</dt><dd>1<" in response.content
    assert b"bob@alice.example" not in response.content


def test_alices_session_is_worthless_on_charlies_host(
    alice_client: Client, alice_tenant: Tenant, alice: User, charlie_tenant: Tenant
) -> None:
    login(alice_client, alice_tenant, alice)
    session_cookie = alice_client.cookies["sessionid"].value
    other = Client(HTTP_HOST=str(charlie_tenant.get_primary_domain()))
    other.cookies["sessionid"] = session_cookie
    response = other.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_sign_out(alice_client: Client, alice_tenant: Tenant, alice: User) -> None:
    login(alice_client, alice_tenant, alice)
    response = alice_client.post("/logout/")
    assert response.status_code == 302
    assert alice_client.get("/").status_code == 302
