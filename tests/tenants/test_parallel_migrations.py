"""migrate_tenants across processes: no test transaction here, the workers must see the rows."""

from collections.abc import Iterator

import pytest
from pytest_django import DjangoDbBlocker

from tenants import schemas, services
from tenants.models import SchemaMigration, SchemaMigrationState, Tenant
from tests.tenants.test_services import forget_sessions_migration


@pytest.fixture
def committed_tenants(
    django_db_setup: None, django_db_blocker: DjangoDbBlocker
) -> Iterator[list[Tenant]]:
    """Tenants committed for real, for code that runs in other processes; removed afterwards."""
    with django_db_blocker.unblock():
        created = [
            services.tenant_create(
                name=f"Parallel {n}",
                slug=f"parallel-{n}",
                owner_email="o@example.com",
                provision_now=True,
            )
            for n in range(3)
        ]
        yield created
        for tenant in created:
            schemas.schema_drop(schema_name=tenant.schema_name)
            tenant.delete()
        SchemaMigration.objects.filter(schema_name__startswith="t_parallel_").delete()


def test_tenants_migrate_in_parallel_processes_resumes_an_interrupted_run(
    committed_tenants: list[Tenant], django_db_blocker: DjangoDbBlocker
) -> None:
    with django_db_blocker.unblock():
        for tenant in committed_tenants:
            forget_sessions_migration(tenant.schema_name)
        # An earlier run was killed while it migrated the first one.
        SchemaMigration.objects.create(
            schema_name=committed_tenants[0].schema_name, state=SchemaMigrationState.RUNNING
        )

        report = services.tenants_migrate(workers=2)

        names = sorted(tenant.schema_name for tenant in committed_tenants)
        assert sorted(report.migrated) == names
        states = SchemaMigration.objects.filter(schema_name__in=names).values_list(
            "state", flat=True
        )
        assert set(states) == {SchemaMigrationState.DONE}
        assert services.tenants_migrate(workers=2).behind == []
