import pytest
from django.test import Client

from customerinfo.core.accounts.models import User
from tenants.models import Tenant
from tests.tenants.factories import TenantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(public_client: Client) -> Client:
    operator = User.objects.create_superuser("ops@customerinfo.example", "a-long-test-password")
    public_client.force_login(operator)
    return public_client


def test_operator_retries_provisioning_from_the_admin(operator_client: Client) -> None:
    stuck = TenantFactory.create(slug="stuck", status="failed")
    broken = TenantFactory.create(slug="broken", schema_name="public")

    response = operator_client.post(
        "/admin/tenants/tenant/",
        {"action": "retry_provisioning", "_selected_action": [stuck.pk, broken.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert Tenant.objects.get(pk=stuck.pk).ready
    assert not Tenant.objects.get(pk=broken.pk).ready
    messages = [str(message) for message in response.context["messages"]]
    assert any("is ready" in message for message in messages)
    assert any("exists already" in message for message in messages)


def test_operator_sees_tenants_and_schema_migrations(operator_client: Client) -> None:
    assert b"Alice" in operator_client.get("/admin/tenants/tenant/").content
    assert operator_client.get("/admin/tenants/schemamigration/").status_code == 200


def test_retailer_users_cannot_reach_the_admin(alice_client: Client) -> None:
    assert alice_client.get("/admin/").status_code == 404
