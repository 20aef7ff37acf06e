"""What 1,000 shops cost one PostgreSQL cluster: catalog size, and memory per connection.

Creates a scratch database, migrates it, makes BENCH_TENANTS shops (default 1,000) by
provisioning's own clone of the template (``bench/backup.py``'s ``shops_make``), then:

1. counts what the shops add to the catalog (tables, indexes, sequences: every relation of
   every ``t_`` schema) and weighs the catalog itself (``pg_catalog`` relations and indexes);
2. opens one connection and reads its backend's own memory (``RssAnon`` in
   /proc/<pid>/status: the process's private pages, not the shared buffers) fresh, after one
   request-like read of one shop (``SET search_path``, then the tables a portal page reads:
   users, sessions, sign-ups, stores, forms, CRM destinations), and after the same read of
   every shop, as a long-lived connection of a web worker ends up having done. The difference
   per shop is the backend's relation and catalog caches, which PostgreSQL never shrinks while
   the connection lives.

The server must run on this machine (its /proc is read). The scratch database is dropped.
Run with ``uv run python bench/cluster_capacity.py`` (DATABASE_URL names the server). The
last line printed holds the figures as key=value pairs.
"""

import signal
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import support  # noqa: E402 - needs ROOT on the path, just above

DATABASE = "customerinfo_bench_capacity"
#: What one portal page reads in its shop's schema.
REQUEST_TABLES = (
    "accounts_user",
    "django_session",
    "signup_submission",
    "signup_location",
    "signup_form",
    "crm_sync_destination",
)


def backend_rss_kb(pid: int) -> int:
    size = support.rss_anon_kb(pid)
    if size is None:
        raise SystemExit(f"no RssAnon for backend {pid}: is PostgreSQL on this machine?")
    return size


def request_like_read(connection: psycopg.Connection, schema: str) -> None:
    connection.execute(sql.SQL("SET search_path = {}, public").format(sql.Identifier(schema)))
    for table in REQUEST_TABLES:
        connection.execute(sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier(table)))


def catalog_figures(connection: psycopg.Connection) -> tuple[int, int, float]:
    """(relations in shop schemas, relations per shop, catalog MB)."""
    row = connection.execute(
        "SELECT count(*), count(DISTINCT n.nspname) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 't\\_%'"
    ).fetchone()
    assert row is not None
    relations, schemas = row
    size = connection.execute(
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
        "WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind IN ('r', 't', 'm')"
    ).fetchone()
    assert size is not None
    return relations, relations // max(schemas, 1), size[0] / 1_000_000


def main() -> None:
    from bench import backup

    # A stopped run (timeout, Ctrl-C) still drops its scratch database on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with support.scratch_database(DATABASE) as url:
        environment = support.project_environment(url)
        support.manage(environment, "migrate_tenants")
        support.django_setup(environment)
        from django.db import connections

        with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as connection:
            _, _, empty_catalog_mb = catalog_figures(connection)
        started = time.perf_counter()
        schemas = backup.shops_make()
        shops_seconds = time.perf_counter() - started
        connections.close_all()

        with psycopg.connect(
            url.replace("postgres://", "postgresql://", 1), autocommit=True
        ) as connection:
            relations, per_shop, catalog_mb = catalog_figures(connection)
            row = connection.execute("SELECT pg_backend_pid()").fetchone()
            assert row is not None
            pid = row[0]
            fresh = backend_rss_kb(pid)
            request_like_read(connection, schemas[0])
            one = backend_rss_kb(pid)
            for schema in schemas:
                request_like_read(connection, schema)
            every = backend_rss_kb(pid)
    per_schema_kb = (every - one) / max(len(schemas) - 1, 1)
    print(
        f"tenants={len(schemas)} shops_made_s={shops_seconds:.1f} relations={relations} "
        f"relations_per_tenant={per_shop} catalog_mb_empty={empty_catalog_mb:.1f} "
        f"catalog_mb={catalog_mb:.1f} backend_rss_fresh_mb={fresh / 1024:.1f} "
        f"backend_rss_one_tenant_mb={one / 1024:.1f} "
        f"backend_rss_all_tenants_mb={every / 1024:.1f} "
        f"backend_kb_per_tenant_touched={per_schema_kb:.1f}"
    )


if __name__ == "__main__":
    main()
