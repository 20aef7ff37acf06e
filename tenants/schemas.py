"""PostgreSQL schema operations: clone the template, find schemas behind, migrate one schema.

Why a clone of our own: django-tenants' clone is a large PL/pgSQL function followed by a faked
``migrate`` per tenant, which costs seconds. Reading the template's catalog once and replaying it
as DDL in one transaction costs a few hundred milliseconds, keeps every constraint and index name
(later migrations drop them by name) and copies the rows Django keeps per schema (applied
migrations, content types, permissions). tests/tenants/test_schemas.py proves a clone is
identical, catalog entry for catalog entry, to a schema built by running the migrations.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.commands.migrate import Command as MigrateCommand
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django_tenants.utils import get_public_schema_name, schema_exists

from customerinfo.core.tenancy import tenant_connection, use_public_schema

from .errors import SchemaCloneError

MigrationKey = tuple[str, str]


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


# --- clone -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    name: str
    columns: list[str]
    identity_columns: list[str]


def _tables(cursor: CursorWrapper, schema: str) -> list[_Table]:
    cursor.execute(
        """
        SELECT c.relname,
               array_agg(a.attname ORDER BY a.attnum) FILTER (WHERE a.attgenerated = ''),
               array_agg(a.attname ORDER BY a.attnum) FILTER (WHERE a.attidentity <> '')
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        WHERE n.nspname = %s AND c.relkind = 'r'
        GROUP BY c.relname
        ORDER BY c.relname
        """,
        [schema],
    )
    return [_Table(name, list(columns or []), list(ids or [])) for name, columns, ids in cursor]


def _refuse_unsupported(cursor: CursorWrapper, schema: str) -> None:
    """Views and free sequences would need their own copy code; say so."""
    cursor.execute(
        """
        SELECT 'relation ' || c.relname || ' of kind ' || c.relkind::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND c.relkind NOT IN ('r', 'i', 'S')
        UNION ALL
        SELECT 'sequence ' || c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %(schema)s AND c.relkind = 'S' AND NOT EXISTS (
            SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'i')
        """,
        {"schema": schema},
    )
    unsupported = [row[0] for row in cursor]
    if unsupported:
        raise SchemaCloneError(
            f"The schema {schema} holds objects the clone does not copy: {', '.join(unsupported)}"
        )


def _constraint_statements(cursor: CursorWrapper, schema: str) -> tuple[list[str], list[str]]:
    """ALTER TABLE statements: keys and checks first, foreign keys last (they need the keys)."""
    cursor.execute(
        """
        SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
        FROM pg_constraint con
        JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND con.contype IN ('p', 'u', 'c', 'x', 'f')
        ORDER BY c.relname, con.conname
        """,
        [schema],
    )
    keys: list[str] = []
    foreign_keys: list[str] = []
    for table, name, kind, definition in cursor:
        statement = f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}"
        (foreign_keys if kind == "f" else keys).append(statement)
    return keys, foreign_keys


def _index_statements(cursor: CursorWrapper, schema: str) -> list[str]:
    """CREATE INDEX statements for the indexes that do not back a constraint."""
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_namespace n ON n.oid = i.relnamespace
        WHERE n.nspname = %s
          AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.oid)
        ORDER BY i.relname
        """,
        [schema],
    )
    # pg_get_indexdef always names the table with its schema; point it at the new one.
    qualified = f" ON {quote(schema)}."
    plain = f" ON {schema}."
    statements = []
    for _name, definition in cursor:
        statements.append(definition.replace(qualified, " ON ", 1).replace(plain, " ON ", 1))
    return statements


def _routine_statements(cursor: CursorWrapper, schema: str) -> tuple[list[str], list[str]]:
    """CREATE FUNCTION and CREATE TRIGGER statements (signup's daily counts are kept by
    triggers). Function bodies name tables unqualified, so a copy works on its own schema."""
    cursor.execute(
        """
        SELECT pg_get_functiondef(p.oid) FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %s ORDER BY p.proname
        """,
        [schema],
    )
    # pg_get_functiondef always names the function's schema; point it at the new one.
    functions = [
        definition.replace(f" {quote(schema)}.", " ", 1).replace(f" {schema}.", " ", 1)
        for (definition,) in cursor
    ]
    cursor.execute(
        """
        SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY t.tgname
        """,
        [schema],
    )
    # pg_get_triggerdef names the table with its schema too.
    triggers = [
        definition.replace(f" ON {quote(schema)}.", " ON ", 1).replace(f" ON {schema}.", " ON ", 1)
        for (definition,) in cursor
    ]
    return functions, triggers


def functions_pin_sql(schema: str) -> str:
    """One statement pinning the search path of every function of ``schema`` to that schema.

    Trigger functions (signup's daily counts) name their tables unqualified. Resolved through
    the caller's search path, they would fail for a caller with no shop on it (a restore, a
    schema-qualified statement) or, worse, count in another shop's tables when the connection's
    path still names that shop. Pinned, they always work on their own schema's tables. A
    function copied or renamed into another schema (a clone, a restore under a new name) keeps
    the old pin, so every such path runs this again for the new schema.
    """
    literal = "'" + schema.replace("'", "''") + "'"
    return f"""
    DO $pin$
    DECLARE routine regprocedure;
    BEGIN
        FOR routine IN
            SELECT p.oid::regprocedure FROM pg_proc p
            JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = {literal} AND p.prokind = 'f'
        LOOP
            EXECUTE format('ALTER FUNCTION %s SET search_path = %I, public', routine, {literal});
        END LOOP;
    END $pin$;
    """


def functions_unpinned(cursor: CursorWrapper) -> list[tuple[str, str]]:
    """(schema, function) of every function outside pg_catalog, information_schema and public
    whose search path does not start with its own schema: what functions_pin_sql prevents."""
    cursor.execute(
        """
        SELECT n.nspname, p.proname FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'public')
          AND n.nspname NOT LIKE 'pg\\_%%'
          AND NOT EXISTS (
              SELECT 1 FROM unnest(coalesce(p.proconfig, '{}')) AS setting
              WHERE setting = 'search_path=' || quote_ident(n.nspname) || ', public'
          )
        ORDER BY 1, 2
        """
    )
    return [(schema, name) for schema, name in cursor.fetchall()]


def schema_clone(*, source: str, target: str) -> None:
    """Creates ``target`` as a copy of ``source``: tables, keys, indexes and rows.

    Runs in one transaction: the new schema exists complete or not at all.
    """
    if schema_exists(target):
        raise SchemaCloneError(f"The schema {target} exists already")
    with transaction.atomic(), connection.cursor() as cursor:
        # Definitions are printed relative to the search path: with only the source on it, they
        # come out unqualified and are replayed below with only the target on it.
        cursor.execute(f"SET LOCAL search_path TO {quote(source)}")
        _refuse_unsupported(cursor, source)
        tables = _tables(cursor, source)
        keys, foreign_keys = _constraint_statements(cursor, source)
        indexes = _index_statements(cursor, source)
        functions, triggers = _routine_statements(cursor, source)

        cursor.execute(f"CREATE SCHEMA {quote(target)}")
        cursor.execute(f"SET LOCAL search_path TO {quote(target)}")
        for statement in functions:
            cursor.execute(statement)
        cursor.execute(functions_pin_sql(target))
        for table in tables:
            source_table = f"{quote(source)}.{quote(table.name)}"
            cursor.execute(
                f"CREATE TABLE {quote(table.name)} (LIKE {source_table} INCLUDING DEFAULTS "
                "INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)"
            )
            columns = ", ".join(quote(column) for column in table.columns)
            # Rows before indexes: one bulk build per index is cheaper than row-by-row upkeep.
            cursor.execute(
                f"INSERT INTO {quote(table.name)} ({columns}) OVERRIDING SYSTEM VALUE "
                f"SELECT {columns} FROM {source_table}"
            )
            for column in table.identity_columns:
                # The copied rows used explicit ids; the new identity must continue after them.
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, %s), "
                    f"coalesce((SELECT max({quote(column)}) FROM {quote(table.name)}), 0) + 1, "
                    "false)",
                    [f"{quote(target)}.{quote(table.name)}", column],
                )
        # Triggers last: the copied rows are already counted in the copied tables.
        for statement in [*keys, *indexes, *foreign_keys, *triggers]:
            cursor.execute(statement)
    # The SET LOCAL above outlives this block when it ran inside an outer transaction; make
    # django-tenants set the connection's own search path again on the next cursor.
    tenant_connection().search_path_set_schemas = None


def schema_drop(*, schema_name: str) -> None:
    if schema_name == get_public_schema_name():
        raise SchemaCloneError("The public schema is never dropped")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote(schema_name)} CASCADE")


# --- migration state ---------------------------------------------------------------------------


def tenant_app_labels() -> set[str]:
    from django.apps import apps

    labels = set()
    for app in settings.TENANT_APPS:
        labels.add(next(c.label for c in apps.get_app_configs() if c.name == app))
    return labels


def tenant_migration_targets() -> list[MigrationKey]:
    """The newest migration of every tenant app: a schema with all of them applied is current."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    labels = tenant_app_labels()
    return sorted(node for node in loader.graph.leaf_nodes() if node[0] in labels)


def schemas_behind(
    *, schema_names: Sequence[str], targets: Sequence[MigrationKey], chunk_size: int = 1000
) -> list[str]:
    """The schemas among ``schema_names`` that miss any of ``targets``.

    One query reads every schema's django_migrations at once (a UNION ALL over the schemas,
    joined to the targets), instead of one migrate run per schema that finds nothing to do.
    """
    if not schema_names:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname = 'django_migrations' AND c.relkind = 'r' AND n.nspname = ANY(%s)
            """,
            [list(schema_names)],
        )
        with_table = {row[0] for row in cursor}
        current: set[str] = set()
        present = [name for name in schema_names if name in with_table]
        apps = [app for app, _ in targets]
        names = [name for _, name in targets]
        for start in range(0, len(present), chunk_size):
            chunk = present[start : start + chunk_size]
            union = " UNION ALL ".join(
                f"SELECT %s::text AS schema_name, app, name FROM {quote(schema)}.django_migrations"
                for schema in chunk
            )
            cursor.execute(
                f"""
                SELECT applied.schema_name FROM ({union}) AS applied
                JOIN unnest(%s::text[], %s::text[]) AS target(app, name)
                  ON target.app = applied.app AND target.name = applied.name
                GROUP BY applied.schema_name HAVING count(*) = %s
                """,
                [*chunk, apps, names, len(targets)],
            )
            current.update(row[0] for row in cursor)
    return [name for name in schema_names if name not in current]


def applied_migrations(
    *, schema_names: Sequence[str], chunk_size: int = 1000
) -> dict[str, frozenset[MigrationKey]]:
    """Every schema's applied migrations, read with one query per ``chunk_size`` schemas.

    A schema without a django_migrations table maps to an empty set.
    """
    applied: dict[str, set[MigrationKey]] = {name: set() for name in schema_names}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname = 'django_migrations' AND c.relkind = 'r' AND n.nspname = ANY(%s)
            """,
            [list(schema_names)],
        )
        with_table = {row[0] for row in cursor}
        present = [name for name in schema_names if name in with_table]
        for start in range(0, len(present), chunk_size):
            chunk = present[start : start + chunk_size]
            cursor.execute(
                " UNION ALL ".join(
                    f"SELECT %s::text, app, name FROM {quote(schema)}.django_migrations"
                    for schema in chunk
                ),
                chunk,
            )
            for schema, app, name in cursor:
                applied[schema].add((app, name))
    return {name: frozenset(keys) for name, keys in applied.items()}


def compose(sql: str, params: Sequence[Any]) -> str:
    """``sql`` with its parameters merged in, as psycopg would send them."""
    return str(connection.ops.compose_sql(sql, params))  # type: ignore[attr-defined]


def record_applied_sql(*, schema_name: str, keys: Sequence[MigrationKey]) -> str:
    """The INSERT that adds ``keys`` to the schema's django_migrations, as the recorder would."""
    return compose(
        f"INSERT INTO {quote(schema_name)}.django_migrations (app, name, applied) "
        "SELECT app, name, now() FROM unnest(%s::text[], %s::text[]) AS m(app, name)",
        [[app for app, _ in keys], [name for _, name in keys]],
    )


def schema_execute(*, schema_name: str, statements: Sequence[str]) -> None:
    """Runs ``statements`` (parameters merged) in the schema, all or none, in one round trip.

    PostgreSQL runs a query of several statements as one transaction; inside a caller's
    transaction it becomes a savepoint. Unqualified names resolve as in ``migrate``: the schema,
    then public.
    """
    search_path = f"{quote(schema_name)}, {quote(get_public_schema_name())}"
    script = ";\n".join([f"SET LOCAL search_path TO {search_path}", *statements])
    if connection.get_autocommit():
        # SET LOCAL ends with the statement's own transaction: the connection's path is intact.
        with connection.cursor() as cursor:
            cursor.execute(script)
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(script)
    finally:
        # Here SET LOCAL outlives the savepoint; have django-tenants set the path again.
        tenant_connection().search_path_set_schemas = None


def schema_migrate(*, schema_name: str) -> str:
    """Applies pending migrations to one schema and returns what migrate printed.

    Tenant schemas get TENANT_APPS (django-tenants' router decides from the connection's schema),
    the public schema gets SHARED_APPS.
    """
    output = io.StringIO()
    try:
        if schema_name != get_public_schema_name():
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema_name)}")
            # The recorder's table must exist in the schema itself before migrate looks for it,
            # or it would find public's and believe everything applied.
            tenant_connection().set_schema(schema_name, include_public=False)
            MigrationRecorder(connection).ensure_schema()
        tenant_connection().set_schema(schema_name)
        call_command(
            MigrateCommand(), interactive=False, verbosity=1, stdout=output, skip_checks=True
        )
    finally:
        use_public_schema()
    return output.getvalue()
