"""Backup, restore check and one shop's restore at 1,000 shops and 1,000,000 sign-ups.

Creates a scratch database, makes BENCH_TENANTS shops (default 1,000) by provisioning's own
clone of the template (which holds a store and a published form here), fills each with
BENCH_SIGNUPS_PER_TENANT sign-ups (default 1,000) by generate_series, then times the three
commands as their CronJobs and an operator run them: ``backup_create``, ``backup_verify`` and
``tenant_restore <slug> --as <new slug>``. The scratch database and the backups are removed.

Run with ``uv run python bench/backup.py`` (DATABASE_URL names the server to use). The last line
printed holds the figures as key=value pairs.
"""

import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # before bench/, whose tenants.py is not the app

from bench import support  # noqa: E402 - needs ROOT on the path, just above

TENANTS = int(os.environ.get("BENCH_TENANTS", "1000"))
SIGNUPS_PER_TENANT = int(os.environ.get("BENCH_SIGNUPS_PER_TENANT", "1000"))
DATABASE = f"customerinfo_bench_backup_{secrets.token_hex(3)}"
#: Shops filled per transaction.
FILL_BATCH = 50


def template_store_and_form() -> None:
    """A store and a published form in the template: every cloned shop starts with them."""
    from django.conf import settings
    from django_tenants.utils import schema_context

    from signup import services
    from signup.definitions import default_definition

    with schema_context(settings.TENANT_TEMPLATE_SCHEMA):
        services.location_create(
            actor=None, name="Main store", code="main", country="FR", time_zone="Europe/Paris"
        )
        form = services.form_create(
            actor=None, name="Main form", is_default=True, definition=default_definition()
        )
        services.form_publish(actor=None, form=form)


def shops_make() -> list[str]:
    """Shops as provisioning leaves them (the template's clone, ready), their rows written in
    bulk: what is measured is the backup, not a thousand sign-up requests."""
    from django.conf import settings
    from django.utils import timezone

    from tenants.models import Domain, Tenant, TenantStatus
    from tenants.schemas import schema_clone
    from tenants.services import schema_name_for

    tenants = Tenant.objects.bulk_create(
        [
            Tenant(
                name=f"Bench shop {number}",
                slug=f"bench-{number}",
                schema_name=schema_name_for(f"bench-{number}"),
                owner_email=f"owner@bench-{number}.example",
                status=TenantStatus.ACTIVE,
                ready=True,
                provisioned_at=timezone.now(),
            )
            for number in range(TENANTS)
        ]
    )
    Domain.objects.bulk_create(
        [
            Domain(domain=f"{tenant.slug}.{settings.BASE_DOMAIN}", tenant=tenant, is_primary=True)
            for tenant in tenants
        ]
    )
    for number, tenant in enumerate(tenants, start=1):
        schema_clone(source=settings.TENANT_TEMPLATE_SCHEMA, target=tenant.schema_name)
        if number % 100 == 0:
            print(f"cloned {number} shops", flush=True)
    return [tenant.schema_name for tenant in tenants]


def signups_fill(schemas: list[str]) -> None:
    from django.db import connection, transaction

    for start in range(0, len(schemas), FILL_BATCH):
        with transaction.atomic(), connection.cursor() as cursor:
            for schema in schemas[start : start + FILL_BATCH]:
                statement = sql.SQL(
                    "INSERT INTO {submission} (id, form_version_id, location_id, email, "
                    "first_name, last_name, phone, postal_code, answers, set_aside, locale, "
                    "captured_at, received_at) "
                    "SELECT gen_random_uuid(), (SELECT min(id) FROM {version}), "
                    "(SELECT min(id) FROM {location}), 'shopper' || n || '@bench.example', "
                    "'Zoé', 'Martin', '+3361234' || lpad(n::text, 4, '0'), '75001', '{{}}', "
                    "'{{}}', 'fr', now() - n * interval '1 minute', "
                    "now() - n * interval '1 minute' "
                    "FROM generate_series(1, {count}) AS n"
                ).format(
                    submission=sql.Identifier(schema, "signup_submission"),
                    version=sql.Identifier(schema, "signup_formversion"),
                    location=sql.Identifier(schema, "signup_location"),
                    count=sql.Literal(SIGNUPS_PER_TENANT),
                )
                cursor.execute(statement.as_string(connection.connection))


def main() -> None:
    backups = Path(tempfile.mkdtemp(prefix="bench-backups-"))
    try:
        with support.scratch_database(DATABASE) as database:
            environment = support.project_environment(
                database,
                BACKUP_STORAGE="local",
                BACKUP_DIR=str(backups / "store"),
                BACKUP_WORK_DIR=str(backups),
            )
            support.manage(environment, "migrate_tenants")
            support.django_setup(environment)
            from django.db import connections

            template_store_and_form()
            started = time.perf_counter()
            schemas = shops_make()
            print(f"shops made in {time.perf_counter() - started:.0f} s", flush=True)
            started = time.perf_counter()
            signups_fill(schemas)
            print(f"sign-ups made in {time.perf_counter() - started:.0f} s", flush=True)
            connections.close_all()

            backup_seconds, summary = support.manage(environment, "backup_create")
            print(f"backup_create: {backup_seconds:.1f} s  {summary}", flush=True)
            backup_id = summary.split()[0].removeprefix("backup=")
            verify_seconds, summary = support.manage(environment, "backup_verify")
            print(f"backup_verify: {verify_seconds:.1f} s  {summary}", flush=True)
            restore_seconds, summary = support.manage(
                environment,
                "tenant_restore",
                f"bench-{TENANTS // 2}",
                "--backup",
                backup_id,
                "--as",
                f"copy-{TENANTS // 2}",
            )
            print(f"tenant_restore: {restore_seconds:.1f} s  {summary}", flush=True)
    finally:
        shutil.rmtree(backups, ignore_errors=True)
    print(
        f"tenants={TENANTS} signups={TENANTS * SIGNUPS_PER_TENANT} "
        f"backup_s={backup_seconds:.1f} verify_s={verify_seconds:.1f} "
        f"restore_one_tenant_s={restore_seconds:.1f}"
    )


if __name__ == "__main__":
    main()
