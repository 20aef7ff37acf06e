import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import User
from tenants.models import Tenant
from tests.conftest import PASSWORD, login

pytestmark = pytest.mark.django_db


def test_a_member_changes_their_own_password(
    alice_client: Client, alice_tenant: Tenant, bob: User
) -> None:
    login(alice_client, alice_tenant, bob)
    assert b"Change your password" in alice_client.get("/password/").content
    wrong = alice_client.post(
        "/password/",
        {"old_password": "nope", "new_password1": "x", "new_password2": "y"},
    )
    assert wrong.status_code == 200
    assert b'role="alert"' in wrong.content
    done = alice_client.post(
        "/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-password-42",
            "new_password2": "another-long-password-42",
        },
        follow=True,
    )
    assert b"Your password was changed" in done.content
    with tenant_context(alice_tenant):
        assert User.objects.get(pk=bob.pk).check_password("another-long-password-42")


def test_password_page_needs_sign_in(alice_client: Client) -> None:
    assert alice_client.get("/password/").status_code == 302
