"""The team page: the owner adds members, changes roles, deactivates; never the last owner."""

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import Role, User
from customerinfo.core.models import AuditEntry
from tenants.models import Tenant
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db


def _member(tenant: Tenant, email: str) -> User:
    with tenant_context(tenant):
        return User.objects.get(email=email)


def test_team_lists_members_and_roles(owner_client: Client, bob: User) -> None:
    page = owner_client.get("/team/").content.decode()
    assert "alice@alice.example (you)" in page
    assert "bob@alice.example" in page
    assert '<option value="manager" selected>' in page


def test_owner_adds_a_member_who_can_sign_in(
    owner_client: Client, alice_client: Client, alice_tenant: Tenant
) -> None:
    response = owner_client.post(
        "/team/",
        {
            "email": "Dana@Alice.example",
            "full_name": "Dana",
            "role": "staff",
            "password": "another-long-password-7",
        },
        follow=True,
    )
    assert b"dana@alice.example can now sign in" in response.content
    dana = _member(alice_tenant, "dana@alice.example")
    assert dana.role == Role.STAFF
    with tenant_context(alice_tenant):
        assert AuditEntry.objects.get(action="member.create").new == {
            "email": dana.email,
            "role": "staff",
            "is_active": True,
        }
    browser = Client(HTTP_HOST=alice_client.defaults["HTTP_HOST"])
    signed_in = browser.post(
        "/login/",
        {"username": "dana@alice.example", "password": "another-long-password-7"},
        follow=True,
    )
    assert b"dana@alice.example (Store staff)" in signed_in.content


def test_adding_a_member_shows_mistakes(
    owner_client: Client, alice_tenant: Tenant, bob: User
) -> None:
    response = owner_client.post(
        "/team/",
        {"email": "bob@alice.example", "role": "staff", "password": "another-long-password-7"},
    )
    assert response.status_code == 400
    assert b"Already on the team." in response.content
    response = owner_client.post(
        "/team/", {"email": "eve@alice.example", "role": "staff", "password": "123"}
    )
    assert response.status_code == 400
    assert b"This password is too short" in response.content
    with tenant_context(alice_tenant):
        assert not User.objects.filter(email="eve@alice.example").exists()


def test_role_change_and_deactivation(
    owner_client: Client, alice_tenant: Tenant, bob: User
) -> None:
    response = owner_client.post(f"/team/{bob.pk}/", {"action": "role", "role": "staff"})
    assert response.status_code == 302
    assert _member(alice_tenant, bob.email).role == Role.STAFF
    response = owner_client.post(f"/team/{bob.pk}/", {"action": "role", "role": "king"})
    assert _member(alice_tenant, bob.email).role == Role.STAFF
    bob_browser = Client(HTTP_HOST=owner_client.defaults["HTTP_HOST"])
    login(bob_browser, alice_tenant, bob)
    assert bob_browser.get("/").status_code == 200
    owner_client.post(f"/team/{bob.pk}/", {"action": "deactivate"})
    assert not _member(alice_tenant, bob.email).is_active
    assert bob_browser.get("/").status_code == 302  # signed out for good
    page = owner_client.get("/team/").content.decode()
    assert "Deactivated" in page
    assert "Reactivate" in page
    owner_client.post(f"/team/{bob.pk}/", {"action": "activate"})
    assert _member(alice_tenant, bob.email).is_active
    with tenant_context(alice_tenant):
        actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"member.role", "member.deactivate", "member.activate"} <= actions


def test_the_last_owner_stays(owner_client: Client, alice_tenant: Tenant, alice: User) -> None:
    response = owner_client.post(
        f"/team/{alice.pk}/", {"action": "role", "role": "manager"}, follow=True
    )
    assert b"at least one active owner" in response.content
    assert _member(alice_tenant, alice.email).role == Role.OWNER
    response = owner_client.post(f"/team/{alice.pk}/", {"action": "deactivate"}, follow=True)
    assert b"cannot deactivate your own account" in response.content
    assert _member(alice_tenant, alice.email).is_active


def test_an_owner_can_hand_over(owner_client: Client, alice_tenant: Tenant, bob: User) -> None:
    owner_client.post(f"/team/{bob.pk}/", {"action": "role", "role": "owner"})
    alice = _member(alice_tenant, "alice@alice.example")
    owner_client.post(f"/team/{alice.pk}/", {"action": "role", "role": "manager"})
    assert _member(alice_tenant, alice.email).role == Role.MANAGER
    assert owner_client.get("/team/").status_code == 403  # alice is a manager now
    assert PASSWORD  # personas keep their passwords
