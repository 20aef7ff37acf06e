"""The clone must be indistinguishable from a schema built by running the migrations."""

import pytest
from django.conf import settings
from django.db import connection

from customerinfo.core.tenancy import tenant_connection
from tenants import schemas
from tenants.errors import SchemaCloneError
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

CATALOG_QUERIES = {
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = %s AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind = 'r'
        ORDER BY 1, 2""",
    "constraints": """
        SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s ORDER BY 1, 2""",
    "indexes": """
        SELECT i.relname, regexp_replace(pg_get_indexdef(i.oid), ' ON \\S+\\.', ' ON ')
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_namespace n ON n.oid = i.relnamespace WHERE n.nspname = %s ORDER BY 1""",
    # A function's pinned search path names its schema: compared with the name taken out.
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc),
               replace(array_to_string(p.proconfig, ';'), n.nspname, '-')
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = %s ORDER BY 1, 2""",
    "triggers": """
        SELECT c.relname, t.tgname, p.proname FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY 1, 2""",
    "migrations": "SELECT app, name FROM {schema}.django_migrations ORDER BY 1, 2",
    "content_types": "SELECT id, app_label, model FROM {schema}.django_content_type ORDER BY 1",
    "permissions": "SELECT id, codename, content_type_id FROM {schema}.auth_permission ORDER BY 1",
}


def catalog(schema: str) -> dict[str, list[tuple[object, ...]]]:
    # The search path must not make one schema's names print differently from the other's.
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL search_path TO pg_catalog")
        result = {}
        for name, query in CATALOG_QUERIES.items():
            if "{schema}" in query:
                cursor.execute(query.format(schema=connection.ops.quote_name(schema)))
            else:
                cursor.execute(query, [schema])
            # Definitions name their own schema; take it out so two schemas can be compared.
            result[name] = [
                tuple(v.replace(f"{schema}.", "") if isinstance(v, str) else v for v in row)
                for row in cursor.fetchall()
            ]
    tenant_connection().search_path_set_schemas = None
    return result


def test_clone_matches_a_migrated_schema() -> None:
    schemas.schema_migrate(schema_name="t_migrated")
    schemas.schema_clone(source=settings.TENANT_TEMPLATE_SCHEMA, target="t_cloned")

    migrated, cloned = catalog("t_migrated"), catalog("t_cloned")

    assert cloned["columns"], "the clone has no tables"
    for part in CATALOG_QUERIES:
        assert cloned[part] == migrated[part], part


def test_every_function_of_every_schema_is_pinned_to_its_own_schema(
    alice_tenant: Tenant,
) -> None:
    """Migrated, cloned from the template, or a shop's: a trigger resolves its tables in its own
    schema whatever the caller's search path is (tenants.schemas.functions_pin_sql)."""
    schemas.schema_migrate(schema_name="t_migrated")
    schemas.schema_clone(source=settings.TENANT_TEMPLATE_SCHEMA, target="t_cloned")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname IN ('t_migrated', 't_cloned', %s)",
            [alice_tenant.schema_name],
        )
        (found,) = cursor.fetchone()
        assert found >= 3 * 7  # signup's daily counts: seven functions in each
        assert schemas.functions_unpinned(cursor) == []


def test_a_trigger_counts_in_its_own_schema_when_the_path_names_another() -> None:
    schemas.schema_clone(source=settings.TENANT_TEMPLATE_SCHEMA, target="t_one")
    schemas.schema_clone(source=settings.TENANT_TEMPLATE_SCHEMA, target="t_two")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO t_one.signup_location (name, code, country, time_zone, overrides, "
            "language, is_active, created_at) "
            "VALUES ('Till', 'till', 'FR', 'Europe/Paris', '{}', '', true, now()) RETURNING id"
        )
        (store,) = cursor.fetchone()
        for schema in ("t_one", "t_two"):
            cursor.execute(
                f"INSERT INTO {schema}.signup_signupday (location_id, day, signups, "
                "email_opt_ins, sms_opt_ins) VALUES (%s, '2026-01-05', 9, 9, 9)",
                [store],
            )
        # Recounting a store with no sign-ups empties its days: in t_one, the function's own
        # schema, and not in t_two, which the caller's path names.
        cursor.execute("SET LOCAL search_path TO t_two")
        cursor.execute("SELECT t_one.signup_day_recount(%s)", [store])
        cursor.execute("SELECT count(*) FROM t_one.signup_signupday")
        assert cursor.fetchone() == (0,)
        cursor.execute("SELECT count(*) FROM t_two.signup_signupday")
        assert cursor.fetchone() == (1,)
        # With no shop on the path at all (a restore's session), it still finds its tables.
        cursor.execute("SET LOCAL search_path TO pg_catalog")
        cursor.execute("SELECT t_one.signup_day_recount(%s)", [store])
    tenant_connection().search_path_set_schemas = None


def test_clone_continues_identity_sequences_after_copied_rows() -> None:
    schemas.schema_clone(source=settings.TENANT_TEMPLATE_SCHEMA, target="t_cloned")
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM t_cloned.django_content_type")
        (highest,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO t_cloned.django_content_type (app_label, model) VALUES ('x', 'y') "
            "RETURNING id"
        )
        (new_id,) = cursor.fetchone()
    assert new_id == highest + 1


def test_clone_refuses_an_existing_target(alice_tenant: Tenant) -> None:
    with pytest.raises(SchemaCloneError, match="exists already"):
        schemas.schema_clone(
            source=settings.TENANT_TEMPLATE_SCHEMA, target=alice_tenant.schema_name
        )


def test_clone_refuses_objects_it_cannot_copy() -> None:
    schemas.schema_clone(source=settings.TENANT_TEMPLATE_SCHEMA, target="t_source")
    with connection.cursor() as cursor:
        cursor.execute("CREATE VIEW t_source.a_view AS SELECT 1 AS one")
        cursor.execute("CREATE SEQUENCE t_source.loose_sequence")
    with pytest.raises(SchemaCloneError, match=r"a_view.*loose_sequence"):
        schemas.schema_clone(source="t_source", target="t_copy")


def test_schemas_behind_finds_exactly_the_schemas_missing_a_migration(
    alice_tenant: Tenant, charlie_tenant: Tenant
) -> None:
    targets = schemas.tenant_migration_targets()
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM t_alice.django_migrations WHERE (app, name) = (%s, %s)", list(targets[0])
        )
        cursor.execute("CREATE SCHEMA t_empty")

    behind = schemas.schemas_behind(
        schema_names=["t_alice", "t_charlie", "t_empty", settings.TENANT_TEMPLATE_SCHEMA],
        targets=targets,
        chunk_size=1,
    )

    assert behind == ["t_alice", "t_empty"]


def test_schemas_behind_of_nothing_is_nothing() -> None:
    assert schemas.schemas_behind(schema_names=[], targets=[("a", "b")]) == []


def test_the_public_schema_is_never_dropped() -> None:
    with pytest.raises(SchemaCloneError):
        schemas.schema_drop(schema_name="public")


def test_schema_drop_removes_the_schema() -> None:
    schemas.schema_clone(source=settings.TENANT_TEMPLATE_SCHEMA, target="t_doomed")
    schemas.schema_drop(schema_name="t_doomed")
    assert schemas.schemas_behind(
        schema_names=["t_doomed"], targets=schemas.tenant_migration_targets()
    ) == ["t_doomed"]
