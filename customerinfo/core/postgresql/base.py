"""django-tenants' PostgreSQL backend, remembering on each session the search_path it set.

PostgreSQL plans a cached statement again whenever the session's search_path differs from the
one it was planned under, whatever the statement names. The kiosk's prepared statements name
their schema and run under one path (``customerinfo.core.db.schema_cursor``), but any ORM query
of a shop met for the first time, or of a portal page, sets that shop's path on the same
connection; each such ``SET`` made every shop's statement on the connection be parsed and
planned again at its next sign-up. Over 1,000 shops, while a process was still meeting shops,
nearly every sign-up was planned again (9,182 plans in 9,856 sign-ups, ``pg_stat_statements``),
planning costing more than running.

This wrapper records the path django-tenants sets on the psycopg connection itself
(``SESSION_PATH``), and forgets it whenever a rollback may have undone it, so that
``schema_cursor`` knows when the session is off its path and puts it back with one ``SET``.
"""

from typing import Any

from django_tenants.postgresql_backend import base

#: The attribute of the psycopg connection holding the search_path last set on the session, as
#: a tuple of schema names; absent or None when unknown.
SESSION_PATH = "customerinfo_search_path"


def session_path_note(raw_connection: Any, path: tuple[str, ...] | None) -> None:
    if raw_connection is not None:
        setattr(raw_connection, SESSION_PATH, path)


class DatabaseWrapper(base.DatabaseWrapper):
    def _handle_search_path(self, cursor: Any = None) -> None:
        before = self.search_path_set_schemas
        super()._handle_search_path(cursor)
        after = self.search_path_set_schemas
        if after is not before:
            # A SET was sent (or failed, when after is None).
            session_path_note(self.connection, tuple(after) if after else None)

    def rollback(self) -> None:
        # A SET made in the transaction is undone: which path the session is on is unknown.
        session_path_note(self.connection, None)
        super().rollback()

    def savepoint_rollback(self, sid: str) -> None:
        try:
            super().savepoint_rollback(sid)
        finally:
            session_path_note(self.connection, None)
