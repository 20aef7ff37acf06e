"""A trigram index on sign-up emails, where PostgreSQL offers pg_trgm, for "email contains" search.

Without it a search for part of an address reads every sign-up of the retailer. With it, the
same ``LIKE '%part%'`` is answered from the index (signup.selectors.signups picks the path at
run time by asking whether this index exists).

Guarded, because not every server can have the extension: a managed PostgreSQL may not ship it,
or the application's role may not be allowed to create it. Then this migration does nothing and
the portal searches by scanning. The extension is created in ``public`` on purpose: created from
a tenant's migration without ``SCHEMA``, it would land in that tenant's schema (first on the
search path) and be invisible to every other one.

Not atomic: the index is built CONCURRENTLY, so tablets keep signing shoppers up while it is
built on a large table; a plain CREATE INDEX would hold their INSERTs until it finished.
"""

from contextlib import suppress

from django.db import migrations, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.utils import CursorWrapper
from django.db.migrations.state import StateApps
from django.db.utils import DatabaseError

INDEX = "submission_email_trgm_idx"


def _extension_schema(cursor: CursorWrapper) -> str | None:
    cursor.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'"
    )
    row = cursor.fetchone()
    return str(row[0]) if row else None


def index_create(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            return
        if _extension_schema(cursor) is None:
            # No right to create it, or another schema's migration created it a moment ago:
            # either way, look again below. The savepoint keeps a surrounding transaction usable.
            with suppress(DatabaseError), transaction.atomic(using=connection.alias):
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        schema = _extension_schema(cursor)
        if schema is None:
            return
        # A build that failed half-way leaves an invalid index under this name, which IF NOT
        # EXISTS would keep for ever: drop it so the build runs again.
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
            [INDEX],
        )
        existing = cursor.fetchone()
        # CONCURRENTLY cannot run in a transaction block. Only a schema nobody uses yet is
        # migrated inside one (a fresh schema, a test's): there a plain build is as good.
        concurrently = "" if connection.in_atomic_block else "CONCURRENTLY"
        if existing is not None and not existing[0]:
            cursor.execute(f"DROP INDEX {concurrently} {INDEX}")
        quoted = connection.ops.quote_name(schema)
        cursor.execute(
            f"CREATE INDEX {concurrently} IF NOT EXISTS {INDEX} "
            f"ON signup_submission USING gin (email {quoted}.gin_trgm_ops)"
        )


def index_drop(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    concurrently = "" if schema_editor.connection.in_atomic_block else "CONCURRENTLY"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX {concurrently} IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("signup", "0006_export"),
    ]

    operations = [
        migrations.RunPython(index_create, index_drop, atomic=False),
    ]
