"""migrate_tenants across worker processes: no test transaction here, the workers must see rows.

The pending migration is sessions' 0001_initial, taken back out of some schemas (table, record,
content type and permissions), as a release bringing a new model would find them.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, migrations, models, transaction
from django.db.migrations.migration import Migration
from django.db.migrations.operations.base import Operation
from pytest_django import DjangoDbBlocker

from tenants import fleet, schemas, services
from tenants.models import SchemaMigration, SchemaMigrationState, Tenant
from tests.tenants.test_schemas import CATALOG_QUERIES, catalog

ROOT = Path(__file__).resolve().parents[2]


def take_sessions_out(schema: str, *, drop_table: bool = True) -> None:
    """Puts ``schema`` one migration (a new model) behind."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {schema}.django_migrations "
            "WHERE app = 'sessions' AND name = '0001_initial'"
        )
        cursor.execute(
            f"DELETE FROM {schema}.auth_permission WHERE content_type_id IN "
            f"(SELECT id FROM {schema}.django_content_type WHERE app_label = 'sessions')"
        )
        cursor.execute(f"DELETE FROM {schema}.django_content_type WHERE app_label = 'sessions'")
        if drop_table:
            cursor.execute(f"DROP TABLE {schema}.django_session")


def has_sessions(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{schema}.django_session"])
        return bool(cursor.fetchone()[0])


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
            for n in range(4)
        ]
        yield created
        for tenant in created:
            schemas.schema_drop(schema_name=tenant.schema_name)
            tenant.delete()
        SchemaMigration.objects.filter(schema_name__startswith="t_parallel_").delete()


def test_a_new_migration_reaches_every_schema_behind_as_migrate_would_make_it(
    committed_tenants: list[Tenant], django_db_blocker: DjangoDbBlocker
) -> None:
    names = [tenant.schema_name for tenant in committed_tenants]
    with django_db_blocker.unblock():
        for name in names:
            take_sessions_out(name)

        report = services.tenants_migrate(workers=2)

        assert sorted(report.migrated) == sorted(names)
        assert report.failed == {}
        records = SchemaMigration.objects.filter(schema_name__in=names)
        assert {record.state for record in records} == {SchemaMigrationState.DONE}
        # The first ran Django's migrate; the others replayed what it ran.
        replayed = [record for record in records if record.output.startswith("Replayed")]
        assert len(replayed) == len(names) - 1
        assert "sessions.0001_initial" in replayed[0].output
        # Tables, keys, indexes, recorded migrations, content types and permissions: the same.
        with transaction.atomic():
            migrated_by_django = catalog(names[0])
            for name in names[1:]:
                replayed_catalog = catalog(name)
                for part in CATALOG_QUERIES:
                    assert replayed_catalog[part] == migrated_by_django[part], (name, part)
        assert services.tenants_migrate(workers=2).behind == []


def test_a_failing_schema_is_named_and_the_others_are_migrated(
    committed_tenants: list[Tenant], django_db_blocker: DjangoDbBlocker
) -> None:
    names = [tenant.schema_name for tenant in committed_tenants]
    broken = names[2]
    with django_db_blocker.unblock():
        for name in names:
            # The broken one keeps its table, so creating it again fails there.
            take_sessions_out(name, drop_table=name != broken)

        with pytest.raises(CommandError, match=broken) as raised:
            call_command("migrate_tenants", workers=2, stdout=StringIO())

        assert not any(name in str(raised.value) for name in names if name != broken)
        states = dict(
            SchemaMigration.objects.filter(schema_name__in=names).values_list(
                "schema_name", "state"
            )
        )
        assert states.pop(broken) == SchemaMigrationState.FAILED
        assert set(states.values()) == {SchemaMigrationState.DONE}
        assert "already exists" in SchemaMigration.objects.get(schema_name=broken).error
        assert all(has_sessions(name) for name in names)
        assert schemas.schemas_behind(
            schema_names=names, targets=schemas.tenant_migration_targets()
        ) == [broken]


def _wait_for(query: str, params: Sequence[Any]) -> None:
    """Polls until ``query`` returns true; a missing answer fails the test, not a slow one."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            if cursor.fetchone()[0]:
                return
        time.sleep(0.1)
    pytest.fail(f"never true: {query}")


def test_a_killed_run_leaves_each_schema_migrated_or_behind_and_a_rerun_finishes(
    committed_tenants: list[Tenant], django_db_blocker: DjangoDbBlocker
) -> None:
    names = [tenant.schema_name for tenant in committed_tenants]
    stuck = names[-1]
    with django_db_blocker.unblock():
        for name in names:
            take_sessions_out(name)
        # Another session keeps writers out of the last schema's migration table (readers may
        # go on): its worker stops there, its new table made, and the run is killed then.
        blocker = connections.create_connection("default")
        blocker.set_autocommit(False)
        with blocker.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {stuck}.django_migrations IN EXCLUSIVE MODE")
        run = subprocess.Popen(
            [sys.executable, "manage.py", "migrate_tenants", "--workers", "2"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": _database_url()},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _wait_for(
                "SELECT count(*) = %s FROM tenants_schemamigration "
                "WHERE schema_name = ANY(%s) AND state = 'done'",
                [len(names) - 1, names[:-1]],
            )
            _wait_for(
                "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE NOT l.granted AND n.nspname = %s AND c.relname = 'django_migrations')",
                [stuck],
            )
        finally:
            # As a node losing the pod would: the command and its workers, all at once.
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
            blocker.rollback()
            blocker.close()

        assert all(has_sessions(name) for name in names[:-1])
        assert not has_sessions(stuck), "the killed schema's migration was rolled back"
        targets = schemas.tenant_migration_targets()
        assert schemas.schemas_behind(schema_names=names, targets=targets) == [stuck]
        assert SchemaMigration.objects.get(schema_name=stuck).state == SchemaMigrationState.RUNNING

        report = services.tenants_migrate(workers=2)

        assert report.behind == report.migrated == [stuck]
        assert SchemaMigration.objects.get(schema_name=stuck).state == SchemaMigrationState.DONE
        assert has_sessions(stuck)


def _database_url() -> str:
    """The test database, as the command in another process must reach it."""
    settings = connection.settings_dict
    user, host, port = settings["USER"], settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


def test_nothing_pending_touches_no_schema(
    committed_tenants: list[Tenant], django_db_blocker: DjangoDbBlocker
) -> None:
    with django_db_blocker.unblock():
        SchemaMigration.objects.all().delete()
        output = StringIO()

        call_command("migrate_tenants", workers=2, stdout=output)

        assert "behind=0 migrated=0 failed=0" in output.getvalue()
        assert not SchemaMigration.objects.exists()


# --- which plans replay --------------------------------------------------------------------------


def _migration(app_label: str, *operations: Operation, atomic: bool = True) -> Migration:
    # As a migration file declares them: on its class.
    declared: type[Migration] = type(
        "Migration", (Migration,), {"operations": list(operations), "atomic": atomic}
    )
    return declared("0099_test", app_label)


def _noop(apps: object, schema_editor: object) -> None:
    """The code a data migration would run."""


@pytest.mark.django_db
def test_a_real_plan_with_a_new_model_replays_and_adds_its_content_types(
    alice_tenant: Tenant,
) -> None:
    take_sessions_out(alice_tenant.schema_name)

    plan = fleet._plan(alice_tenant.schema_name)

    assert [(m.app_label, m.name) for m, _ in plan] == [("sessions", "0001_initial")]
    kind = fleet.plan_kind(plan, tenant_labels=schemas.tenant_app_labels())
    assert kind.replayable
    assert kind.post_migrate


def test_plans_that_depend_on_each_schema_run_migrate_in_each() -> None:
    labels = {"signup"}
    add_field = migrations.AddField("kiosk", "note", models.TextField(default=""))
    run_python = migrations.RunPython(_noop)

    def kind(*plan: Migration) -> tuple[bool, bool]:
        result = fleet.plan_kind([(m, False) for m in plan], tenant_labels=labels)
        return result.replayable, result.post_migrate

    assert kind(_migration("signup", add_field)) == (True, False)
    # A data migration reads each schema's own rows.
    assert kind(_migration("signup", add_field), _migration("signup", run_python)) == (
        False,
        False,
    )
    nested = migrations.SeparateDatabaseAndState(database_operations=[run_python])
    assert kind(_migration("signup", nested)) == (False, False)
    # CREATE INDEX CONCURRENTLY cannot run in the one transaction a replay is.
    assert kind(_migration("signup", add_field, atomic=False)) == (False, False)
    # The router keeps an app that is not in the tenant schemas out of them, whatever it runs.
    assert kind(_migration("billing", run_python, atomic=False)) == (True, False)
    assert kind(_migration("signup", migrations.RenameModel("Kiosk", "Tablet"))) == (False, False)
    create = migrations.CreateModel("Note", [("id", models.BigAutoField(primary_key=True))])
    assert kind(_migration("signup", create)) == (True, True)
