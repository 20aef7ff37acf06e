"""A cursor whose statements PostgreSQL parses and plans once per connection.

Django sends every query with its parameters inlined (client-side binding) and without
prepared statements, so PostgreSQL parses and plans each one from scratch. For the few
statements on a hot path that is most of their database cost: the kiosk's sign-up INSERT
(two INSERTs in one CTE) spends more time being planned than inserting. ``prepared_cursor``
binds parameters on the server and prepares each statement on first use; later executions on
the same connection send only the parameters. Django turns psycopg's preparing off unless the
database OPTIONS set ``prepare_threshold``, which settings.base does.

Safe with django-tenants: PostgreSQL re-analyses a prepared statement when ``search_path`` has
changed since it was planned, so a statement prepared in one tenant's schema never writes to
it from another's. Prepared statements live in the session, which is why we support PgBouncer
in session pooling mode only (README).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

import psycopg
from django.db import connection
from django.db.backends.utils import CursorWrapper


class _PreparingCursor(psycopg.Cursor[Any]):
    """Server-side binding (psycopg's own cursor, not Django's ClientCursor), always prepared."""

    def execute(
        self,
        query: Any,
        params: Any = None,
        *,
        prepare: bool | None = None,
        binary: bool | None = None,
    ) -> Self:
        return super().execute(query, params, prepare=True, binary=binary)


@contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    """Like ``connection.cursor()`` (same wrapper: query logging, errors, execute wrappers),
    with server-side binding and prepared statements. Only for SQL written by hand for it:
    the ORM's SQL is not always valid with server-side binding."""
    # Opens the connection and, through django-tenants, sets the tenant's search_path.
    connection.cursor().close()
    raw: Any = _PreparingCursor(connection.connection)
    # What Django's own connection.cursor() does with the cursor it creates.
    wrapped = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    with wrapped as cursor:
        yield cursor
