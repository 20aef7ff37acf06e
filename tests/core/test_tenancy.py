"""Typed access to the connection's tenant: right inside a schema, loud outside one."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django_tenants.utils import tenant_context

from customerinfo.core.models import AuditEntry
from customerinfo.core.tenancy import (
    current_schema,
    current_tenant,
    current_tenant_id,
    public_schema,
    use_public_schema,
)
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("in_alice")
def test_inside_a_tenant_the_accessors_name_it(alice_tenant: Tenant) -> None:
    assert current_tenant_id() == alice_tenant.pk
    assert current_tenant().pk == alice_tenant.pk
    assert current_schema() == "t_alice"
    with public_schema():
        assert current_schema() == "public"
    assert current_schema() == "t_alice"


def test_outside_any_tenant_there_is_no_tenant_id() -> None:
    use_public_schema()
    assert current_schema() == "public"
    with pytest.raises(RuntimeError, match="No tenant"):
        current_tenant_id()


def test_the_audit_trail_kept_its_table_and_its_content_type_moved(alice_tenant: Tenant) -> None:
    assert AuditEntry._meta.db_table == "signup_auditentry"
    with tenant_context(alice_tenant):
        content_type = ContentType.objects.get_for_model(AuditEntry)
        assert (content_type.app_label, content_type.model) == ("core", "auditentry")
        assert not ContentType.objects.filter(app_label="signup", model="auditentry").exists()
