"""Backups read committed data, from other processes: the shops they back up are made once per
test database outside any test's transaction, and removed at the end.

Two shops of their own, so the in-place restore never touches the personas' schemas:
- ``ops-a`` (Ops A) with a store, a tablet and sign-ups, for the side-by-side restore;
- ``ops-b`` (Ops B), the same, whose sign-ups the in-place test erases and gets back.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core import mail
from django_tenants.utils import tenant_context
from psycopg import sql
from pytest_django import DjangoDbBlocker, Settings

from operations.backups.postgres import app_server
from operations.backups.storage import LocalStorage
from tenants.models import Tenant
from tenants.services import tenant_create
from tests.conftest import PASSWORD
from tests.signup.factories import kiosk_create, submission_create

SHOPS = {"ops-a": 5, "ops-b": 4}


def schemas_drop(*patterns: str) -> None:
    with app_server().connect() as connection:
        for pattern in patterns:
            names = connection.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", [pattern]
            ).fetchall()
            for (name,) in names:
                connection.execute(
                    sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(str(name)))
                )


@pytest.fixture(scope="session")
def ops_shops(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[list[str]]:
    with django_db_blocker.unblock():
        for slug, signups in SHOPS.items():
            tenant = tenant_create(
                name=f"Ops {slug[-1].upper()}",
                slug=slug,
                owner_email=f"owner@{slug}.example",
                owner_password=PASSWORD,
                provision_now=True,
            )
            with tenant_context(tenant):
                kiosk = kiosk_create()
                for number in range(signups):
                    submission_create(
                        kiosk.device, f"shopper{number}@{slug}.example", first_name="Zoé"
                    )
        yield list(SHOPS)
        Tenant.objects.filter(slug__in=list(SHOPS)).delete()
        schemas_drop("t\\_ops\\_%", "r\\_%")


@pytest.fixture
def storage(tmp_path: Path, settings: Settings, ops_shops: list[str]) -> LocalStorage:
    settings.BACKUP_STORAGE = "local"
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_WORK_DIR = str(tmp_path)
    # Small groups, so even two shops make several dump files, as a thousand would.
    settings.BACKUP_TABLES_PER_DUMP = 30
    settings.OPERATOR_EMAILS = ["ops@customerinfo.test"]
    mail.outbox.clear()
    return LocalStorage(settings.BACKUP_DIR)


def signup_count(schema: str) -> int:
    with app_server().connect() as connection:
        row = connection.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, "signup_submission"))
        ).fetchone()
    return int(str(row[0])) if row else -1


def rows_of(schema: str) -> dict[str, list[str]]:
    """Every row of every table of ``schema``, as text, in a stable order."""
    with app_server().connect() as connection:
        connection.execute("SET TimeZone TO 'UTC'")
        tables = connection.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY 1",
            [schema],
        ).fetchall()
        return {
            str(table): sorted(
                str(row[0])
                for row in connection.execute(
                    sql.SQL("SELECT t::text FROM {} AS t").format(
                        sql.Identifier(schema, str(table))
                    )
                )
            )
            for (table,) in tables
        }
