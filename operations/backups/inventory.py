"""What a database holds, read the same way when a backup is made and when it is checked:
tables and their rows, shops, applied migrations, sample sign-ups.

Each function takes ``connect``, which opens a transaction to read in: the backup's snapshot
(operations.backups.postgres.snapshot_transaction) or the scratch copy. Work is cut in batches,
each in its own transaction, so no reader holds a lock on every table of every shop at once.
"""

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg
from django.conf import settings
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

from signup.models import Submission
from tenants.models import Tenant
from tenants.schemas import tenant_app_labels

from .manifest import TenantEntry
from .postgres import TENANT_SCHEMA_LIKE

Connect = Callable[[], AbstractContextManager[psycopg.Connection[tuple[Any, ...]]]]
TableName = tuple[str, str]

#: Tables counted per statement: few round trips, and locks released between batches.
TABLES_PER_BATCH = 500
SAMPLES_PER_SHOP = 3
SIGNUP_TABLE = Submission._meta.db_table


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def tables(connection: psycopg.Connection[tuple[Any, ...]]) -> list[TableName]:
    """Every ordinary and partitioned table outside PostgreSQL's own schemas."""
    rows = connection.execute(
        """
        SELECT n.nspname, c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p')
          AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
        ORDER BY 1, 2
        """
    ).fetchall()
    return [(str(schema), str(table)) for schema, table in rows]


def is_tenant_schema(schema: str) -> bool:
    return re.match(TENANT_SCHEMA_LIKE, schema) is not None


def row_counts(connect: Connect, names: Sequence[TableName]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for batch in _batches(names, TABLES_PER_BATCH):
        query = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {}, count(*) FROM {}").format(
                sql.Literal(f"{schema}.{table}"), sql.Identifier(schema, table)
            )
            for schema, table in batch
        )
        with connect() as connection:
            counts.update((str(name), int(count)) for name, count in connection.execute(query))
    return counts


def tenants(connection: psycopg.Connection[tuple[Any, ...]]) -> list[TenantEntry]:
    query = sql.SQL("SELECT slug, name, schema_name, ready FROM {} ORDER BY schema_name").format(
        sql.Identifier("public", Tenant._meta.db_table)
    )
    return [
        TenantEntry(slug=str(slug), name=str(name), schema_name=str(schema), ready=bool(ready))
        for slug, name, schema, ready in connection.execute(query)
    ]


def migration_leaves() -> dict[str, list[list[str]]]:
    """The newest migration of every app as this code knows it, public's and shops' apart."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    tenant_labels = tenant_app_labels()
    from django.apps import apps

    shared_labels = {
        config.label for config in apps.get_app_configs() if config.name in settings.SHARED_APPS
    }
    leaves = sorted(loader.graph.leaf_nodes())
    return {
        "shared": [list(leaf) for leaf in leaves if leaf[0] in shared_labels],
        "tenant": [list(leaf) for leaf in leaves if leaf[0] in tenant_labels],
    }


def schemas_missing_migrations(
    connect: Connect, schemas: Sequence[str], leaves: Sequence[Sequence[str]]
) -> list[str]:
    """The schemas among ``schemas`` whose django_migrations lacks any of ``leaves``."""
    if not leaves:
        return []
    complete: set[str] = set()
    apps = [app for app, _ in leaves]
    names = [name for _, name in leaves]
    with connect() as connection:
        with_table = {
            str(row[0])
            for row in connection.execute(
                "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = 'django_migrations' AND n.nspname = ANY(%s)",
                [list(schemas)],
            )
        }
    present = [schema for schema in schemas if schema in with_table]
    for batch in _batches(present, TABLES_PER_BATCH):
        applied = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {} AS schema_name, app, name FROM {}").format(
                sql.Literal(schema), sql.Identifier(schema, "django_migrations")
            )
            for schema in batch
        )
        query = sql.SQL(
            "SELECT applied.schema_name FROM ({}) AS applied "
            "JOIN unnest(%s::text[], %s::text[]) AS leaf(app, name) "
            "ON leaf.app = applied.app AND leaf.name = applied.name "
            "GROUP BY applied.schema_name HAVING count(*) = %s"
        ).format(applied)
        with connect() as connection:
            complete.update(
                str(row[0]) for row in connection.execute(query, [apps, names, len(leaves)])
            )
    return [schema for schema in schemas if schema not in complete]


def sample_schemas(schemas: Sequence[str], how_many: int) -> list[str]:
    """Shops spread evenly over the list, so every dump file tends to be read."""
    if how_many <= 0 or not schemas:
        return []
    step = max(1, len(schemas) // how_many)
    return list(schemas[::step][:how_many])


def signup_hashes(
    connect: Connect, schema: str, ids: Sequence[str] | None = None
) -> dict[str, str]:
    """md5 of sign-ups as row text: the first few by id, or the ones named by ``ids``.

    Read with TimeZone UTC, so the text of a time is the same in the backup and the copy.
    """
    table = sql.Identifier(schema, SIGNUP_TABLE)
    select = "SELECT s.id::text, md5(s::text) FROM {} AS s "
    if ids is None:
        query = sql.SQL(select + "ORDER BY s.id LIMIT {}").format(
            table, sql.Literal(SAMPLES_PER_SHOP)
        )
        parameters: list[Any] = []
    else:
        query = sql.SQL(select + "WHERE s.id::text = ANY(%s)").format(table)
        parameters = [list(ids)]
    with connect() as connection:
        connection.execute("SET TimeZone TO 'UTC'")
        return {str(row[0]): str(row[1]) for row in connection.execute(query, parameters)}
