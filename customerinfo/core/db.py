"""A cursor whose statements PostgreSQL parses and plans once per connection.

Django sends every query with its parameters inlined (client-side binding) and without
prepared statements, so PostgreSQL parses and plans each one from scratch. For the few
statements on a hot path that is most of their database cost: the kiosk's sign-up INSERT
(two INSERTs in one CTE) spends more time being planned than inserting. ``schema_cursor``
binds parameters on the server and prepares each statement on first use; later executions on
the same connection send only the parameters. Django turns psycopg's preparing off unless the
database OPTIONS set ``prepare_threshold``, which settings.base does.

Each statement names its tenant's schema (``schema_statement``), so which shop it writes to is
in its text, never in the session's search_path. Prepared statements live in the session,
which is why we support PgBouncer in session pooling mode only (docs/operations.md).
"""

import functools
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self, cast

import psycopg
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from .postgresql.base import SESSION_PATH, DatabaseWrapper, session_path_note


class _PreparingCursor(psycopg.RawCursor[Any]):
    """Server-side binding (psycopg's own cursor, not Django's ClientCursor), always prepared;
    placeholders are PostgreSQL's own ``$1``, ``$2``… (``SchemaStatement``)."""

    def execute(
        self,
        query: Any,
        params: Any = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Self:
        return super().execute(query, params, prepare=True, binary=binary)


# --- statements that name their tenant's schema -------------------------------------------------
#
# PostgreSQL plans a cached statement again whenever the session's search_path has changed since
# it was planned: a connection serving one shop after another (every web process, once there are
# many shops) would re-plan at each change, and pay a ``SET search_path`` round trip per request
# besides. A statement that names its schema needs no SET, so the session's path stays put and
# its plan survives any number of tenant changes; each tenant's text is its own prepared
# statement on the connection. Figures in docs/architecture.md, "Database connections".


@functools.cache
def _tenant_tables() -> re.Pattern[str]:
    """The tables of every app in a tenant's schema, and the SQL functions its migrations
    make there (``TENANT_SQL_FUNCTIONS``), as one pattern of bare names."""
    names = {
        model._meta.db_table
        for config in apps.get_app_configs()
        if config.name in settings.TENANT_APPS
        for model in config.get_models(include_auto_created=True)
    } | set(settings.TENANT_SQL_FUNCTIONS)
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    # A bare name only: not a column of an alias (x.name), not part of a longer word.
    return re.compile(rf'(?<![\w."])({alternatives})(?![\w"])')


def schema_quote(schema: str) -> str:
    """A schema name as an SQL identifier, whatever characters it has."""
    return '"' + schema.replace('"', '""') + '"'


@functools.cache
def _template(sql: str) -> str:
    # Braces in the SQL are doubled so that only the schema placeholder is formatted.
    escaped = sql.replace("{", "{{").replace("}", "}}")
    return _tenant_tables().sub(r"{schema}.\1", escaped)


def tenant_qualified(sql: str, *, schema: str) -> str:
    """``sql`` with every table (and function) of a tenant app named in ``schema``; public
    tables (named ``public.x`` or found on any search_path) are left as they are. For constant
    SQL only."""
    return _template(sql).format(schema=schema_quote(schema))


_NAMED = re.compile(r"%\((\w+)\)s|%%|%")


@dataclass(frozen=True)
class SchemaStatement:
    """A statement for ``schema_cursor``: its text, naming its schema, with ``$n``
    placeholders, and the parameter each placeholder takes."""

    text: str
    names: tuple[str, ...]

    def arguments(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(values[name] for name in self.names)


@functools.cache
def _positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """``_template(sql)`` with each ``%(name)s`` turned into ``$n``, once per statement.

    psycopg would do this on every execution, and keeps its result for 128 statement texts
    only: with one text per shop, a process serving more shops than that parsed the 2 kB
    statement on every sign-up (about 80 µs). Done here on the text before the schema is
    put in, so once for every shop."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        if name is None:
            raise ValueError(f"a lone % in a hand-written statement: {sql[:80]!r}")
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAMED.sub(number, _template(sql)), tuple(names)


def schema_statement(sql: str, *, schema: str) -> SchemaStatement:
    """``sql`` (constant text, ``%(name)s`` parameters) for ``schema_cursor``: every table of a
    tenant app named in ``schema`` (as ``tenant_qualified``), placeholders numbered."""
    text, names = _positional(sql)
    return SchemaStatement(text.format(schema=schema_quote(schema)), names)


def _generic_plans(raw_connection: Any) -> None:
    """Once per connection: prepared statements use their generic plan from the first run.

    PostgreSQL plans a prepared statement afresh for each of its first five runs, then keeps a
    generic plan. A connection serving many shops runs each shop's statement a few times an
    hour, so most sign-ups paid a full planning: 1.0-2.5 ms of backend CPU for runs two to five
    against 0.6 ms with the generic plan (300 shops, docs/architecture.md "Database
    connections"). Our statements' parameters are plain values (no partial index or skewed
    column to choose a plan by), so the generic plan is the one a custom plan would find.
    Django's own queries are unaffected: they are sent with their values inlined."""
    if getattr(raw_connection, "customerinfo_generic_plans", False):
        return
    raw_connection.execute("SET plan_cache_mode = force_generic_plan")
    # Inside a transaction the setting is undone if it rolls back: set it again next time.
    # The kiosk's statement runs in autocommit, where it holds for the session.
    if raw_connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        raw_connection.customerinfo_generic_plans = True


#: The search_path every statement of ``schema_cursor`` is planned and run under. They name
#: their schema, and the public tables are found on it.
STATEMENT_PATH = ("public",)


def _statement_path(raw_connection: Any) -> None:
    """Puts the session back on ``STATEMENT_PATH`` if anything set another path since.

    A prepared statement is planned again when the session's search_path differs from the one
    it was planned under; the ORM sets a shop's path on the connection (a shop met for the
    first time, a portal page), and before this every such SET cost each shop's statement on
    the connection a new plan at its next sign-up (``customerinfo.core.postgresql``). One SET
    here, only after such a change, keeps every plan valid.
    """
    if getattr(raw_connection, SESSION_PATH, None) == STATEMENT_PATH:
        return
    raw_connection.execute("SET search_path = " + ", ".join(map(schema_quote, STATEMENT_PATH)))
    # django-tenants believed the session was on its shop's path: its next cursor sets it again.
    cast(DatabaseWrapper, connection).search_path_set_schemas = None
    # Inside a transaction the SET is undone if it rolls back; the backend's rollback then
    # forgets the path, and the next statement sets it again.
    session_path_note(raw_connection, STATEMENT_PATH)


@contextmanager
def schema_cursor() -> Iterator[CursorWrapper]:
    """Like ``connection.cursor()`` (same wrapper: query logging, errors, execute wrappers),
    with server-side binding and prepared statements, and without setting the tenant's
    search_path: for SQL written by hand that names its schema (``schema_statement``), so no
    ``SET search_path`` goes before it. The ORM's SQL is not always valid with server-side
    binding."""
    connection.ensure_connection()
    raw_connection: Any = connection.connection
    # psycopg keeps 100 prepared statements per connection and deallocates the oldest past that:
    # one per shop, so a connection serving more shops would plan again most of the time. It
    # keeps one per schema the connection may serve before it is renewed, and the with-outbox
    # variant of each.
    wanted = 2 * settings.DATABASE_CONN_MAX_SCHEMAS or 100_000
    raw_connection.prepared_max = max(raw_connection.prepared_max, wanted)
    _generic_plans(raw_connection)
    _statement_path(raw_connection)
    raw: Any = _PreparingCursor(raw_connection)
    wrapped = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    with wrapped as cursor:
        yield cursor


# --- how many schemas a connection has met ------------------------------------------------------
#
# A PostgreSQL backend keeps the catalog entries and plans of every table it has touched, for
# as long as it lives, and never gives that memory back: a connection that has served many shops
# holds a copy of each one's (docs/architecture.md, "Database connections", has the figures).
# Each connection therefore counts the schemas it has served and is closed, between two
# requests, once past ``DATABASE_CONN_MAX_SCHEMAS``; the next request opens a fresh one.


def schemas_met(schema: str, *, using: BaseDatabaseWrapper = connection) -> int:
    """Notes that the open connection served ``schema``; returns how many it has served."""
    raw = using.connection
    if raw is None:
        return 0
    met: tuple[object, set[str]] | None = getattr(using, "customerinfo_schemas_met", None)
    if met is None or met[0] is not raw:
        met = (raw, set())
        using.customerinfo_schemas_met = met  # type: ignore[attr-defined]
    met[1].add(schema)
    return len(met[1])


def connection_recycle_if_spread(schema: str, *, using: BaseDatabaseWrapper = connection) -> bool:
    """Closes the connection if it has now served more schemas than it may keep; True if so.
    Call between requests or tasks: inside a transaction it only counts."""
    limit: int = settings.DATABASE_CONN_MAX_SCHEMAS
    met = schemas_met(schema, using=using)
    if not limit or using.in_atomic_block or met <= limit:
        return False
    using.close()
    return True
