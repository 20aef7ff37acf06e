import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context
from pytest_django import DjangoCaptureOnCommitCallbacks

from customerinfo.core.accounts.models import Role, User
from tenants import schemas, services
from tenants.errors import TenantError
from tenants.models import Domain, SchemaMigration, SchemaMigrationState, Tenant, TenantStatus
from tests.tenants.factories import TenantFactory

pytestmark = pytest.mark.django_db


def test_tenant_create_provisions_schema_domain_and_owner() -> None:
    tenant = services.tenant_create(
        name=" Dana's Deli ",
        slug="Danas-Deli",
        owner_email="Dana@Example.COM",
        owner_password="a-long-test-password",
        provision_now=True,
    )

    tenant.refresh_from_db()
    assert (tenant.name, tenant.slug, tenant.schema_name) == (
        "Dana's Deli",
        "danas-deli",
        "t_danas_deli",
    )
    assert tenant.ready
    assert tenant.status == TenantStatus.ACTIVE
    assert tenant.provisioned_at
    assert tenant.owner_password_hash == "", "the hash is dropped once the owner exists"
    assert Domain.objects.get(tenant=tenant).domain == f"danas-deli.{settings.BASE_DOMAIN}"
    with tenant_context(tenant):
        owner = User.objects.get()
    assert owner.email == "dana@example.com"
    assert owner.role == Role.OWNER
    assert owner.check_password("a-long-test-password")


def test_tenant_create_without_provision_now_queues_provisioning(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        tenant = services.tenant_create(name="Later", slug="later", owner_email="o@later.example")
    assert not tenant.ready
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("slug", "code"),
    [
        ("", "invalid_slug"),
        ("-leading", "invalid_slug"),
        ("trailing-", "invalid_slug"),
        ("under_score", "invalid_slug"),
        ("x" * 41, "invalid_slug"),
        ("www", "reserved_slug"),
        ("admin", "reserved_slug"),
        ("alice", "slug_taken"),
    ],
)
def test_tenant_create_rejects_bad_slugs(alice_tenant: Tenant, slug: str, code: str) -> None:
    with pytest.raises(TenantError) as caught:
        services.tenant_create(name="Shop", slug=slug, owner_email="o@example.com")
    assert caught.value.code == code
    assert caught.value.message


def test_tenant_create_needs_a_name() -> None:
    with pytest.raises(TenantError, match="needs a name") as caught:
        services.tenant_create(name="  ", slug="nameless", owner_email="o@example.com")
    assert caught.value.code == "invalid_name"


def test_provisioning_twice_changes_nothing(alice_tenant: Tenant) -> None:
    again = services.tenant_provision(tenant_id=alice_tenant.pk)
    assert again.provisioned_at == alice_tenant.provisioned_at


def test_failed_provisioning_is_recorded_and_leaves_no_schema() -> None:
    tenant = TenantFactory.create(schema_name="public")  # cloning onto an existing schema must fail

    with pytest.raises(Exception, match="exists already"):
        services.tenant_provision(tenant_id=tenant.pk)

    tenant.refresh_from_db()
    assert tenant.status == TenantStatus.FAILED
    assert "exists already" in tenant.provisioning_error
    assert not tenant.ready


def test_provision_pending_picks_up_lost_tenants_only() -> None:
    lost = TenantFactory.create(slug="lost")
    TenantFactory.create(slug="failed", status=TenantStatus.FAILED)
    Tenant.objects.filter(pk=lost.pk).update(created_at=lost.created_at.replace(year=2020))

    assert services.tenants_provision_pending(older_than_seconds=60) == [lost.pk]
    lost.refresh_from_db()
    assert lost.ready


def test_template_is_recreated_when_missing() -> None:
    schemas.schema_drop(schema_name=settings.TENANT_TEMPLATE_SCHEMA)
    services.template_ensure_current()
    assert not schemas.schemas_behind(
        schema_names=[settings.TENANT_TEMPLATE_SCHEMA], targets=schemas.tenant_migration_targets()
    )


def forget_sessions_migration(schema: str, *, undo_it: bool = True) -> None:
    """Puts ``schema`` one migration behind, as a release with a new migration would."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {schema}.django_migrations "
            "WHERE app = 'sessions' AND name = '0001_initial'"
        )
        if undo_it:
            cursor.execute(f"DROP TABLE {schema}.django_session")


def test_tenants_migrate_with_nothing_pending_migrates_nothing(alice_tenant: Tenant) -> None:
    lines: list[str] = []
    report = services.tenants_migrate(workers=1, progress=lines.append)
    assert report.checked >= 3  # template, alice, charlie
    assert report.behind == report.migrated == []
    assert any("0 of" in line for line in lines)


def test_tenants_migrate_migrates_only_schemas_behind(alice_tenant: Tenant) -> None:
    forget_sessions_migration("t_alice")

    report = services.tenants_migrate(workers=1)

    assert report.behind == ["t_alice"]
    assert report.migrated == ["t_alice"]
    state = SchemaMigration.objects.get(schema_name="t_alice")
    assert state.state == SchemaMigrationState.DONE
    assert state.finished_at is not None
    assert not schemas.schemas_behind(
        schema_names=["t_alice"], targets=schemas.tenant_migration_targets()
    )


def test_a_failing_schema_is_recorded_and_the_others_go_on(alice_tenant: Tenant) -> None:
    # Alice's table is still there, so applying the migration again fails on it.
    forget_sessions_migration("t_alice", undo_it=False)
    forget_sessions_migration("t_charlie")

    report = services.tenants_migrate(workers=1)

    assert set(report.behind) == {"t_alice", "t_charlie"}
    assert "t_alice" in report.failed
    assert report.migrated == ["t_charlie"]
    failed = SchemaMigration.objects.get(schema_name="t_alice")
    assert failed.state == SchemaMigrationState.FAILED
    assert "Error" in failed.error
