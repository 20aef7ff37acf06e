import pytest
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import Role, User
from tenants.models import Tenant
from tests.core.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_create_user_normalises_the_email(alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        user = User.objects.create_user("Someone@Example.COM", "a-long-test-password")
    assert user.email == "someone@example.com"
    assert str(user) == "someone@example.com"
    assert user.role == Role.STAFF
    assert not user.is_staff


def test_create_user_needs_an_email() -> None:
    with pytest.raises(ValueError, match="email address is required"):
        User.objects.create_user("", "x")


def test_operators_are_superusers_in_the_public_schema() -> None:
    operator = User.objects.create_superuser("ops@customerinfo.example", "a-long-test-password")
    assert operator.is_staff
    assert operator.is_superuser


def test_users_of_one_tenant_do_not_exist_in_another(
    alice_tenant: Tenant, charlie_tenant: Tenant
) -> None:
    with tenant_context(alice_tenant):
        UserFactory.create(email="only-at-alice@example.com")
    with tenant_context(charlie_tenant):
        assert not User.objects.filter(email="only-at-alice@example.com").exists()
    assert not User.objects.filter(email="only-at-alice@example.com").exists()
