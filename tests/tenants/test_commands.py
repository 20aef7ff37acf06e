from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_migrate_tenants_reports_what_it_did(alice_tenant: Tenant) -> None:
    output = StringIO()
    call_command("migrate_tenants", workers=1, stdout=output)
    assert "behind=0 migrated=0 failed=0" in output.getvalue()


def test_migrate_tenants_fails_loudly_naming_the_schema(alice_tenant: Tenant) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM t_alice.django_migrations WHERE app = 'sessions'")
    with pytest.raises(CommandError, match="t_alice"):
        call_command("migrate_tenants", workers=1, stdout=StringIO())


def test_tenant_create_command() -> None:
    output = StringIO()
    call_command(
        "tenant_create", "erin", name="Erin's", owner_email="erin@example.com", stdout=output
    )
    assert "schema t_erin" in output.getvalue()
    assert Tenant.objects.get(slug="erin").ready


def test_tenant_create_command_explains_a_bad_slug() -> None:
    with pytest.raises(CommandError, match="reserved_slug"):
        call_command("tenant_create", "www", name="W", owner_email="w@example.com")
