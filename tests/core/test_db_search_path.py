"""The session's search_path around ``schema_cursor``: its statements always run under one path.

PostgreSQL plans a prepared statement again whenever the session's search_path differs from the
one it was planned under. The ORM sets a shop's path on the connection; ``schema_cursor`` puts
the session back on ``STATEMENT_PATH`` with one SET, only when something changed it, and the
ORM's next query sets its shop's path again: neither ever runs under the other's path.
"""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from customerinfo.core.db import STATEMENT_PATH, schema_cursor
from customerinfo.core.postgresql.base import SESSION_PATH
from signup.models import Location
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def session_path() -> str:
    with schema_cursor() as cursor:
        cursor.execute("SELECT current_setting('search_path')")
        row = cursor.fetchone()
    assert row is not None
    return str(row[0])


def sets_of(queries: CaptureQueriesContext) -> list[str]:
    return [str(q["sql"]) for q in queries.captured_queries if "search_path" in str(q["sql"])]


def test_a_statement_runs_under_the_statement_path_after_the_orm_set_a_shops(
    alice_tenant: Tenant,
) -> None:
    with tenant_context(alice_tenant):
        Location.objects.count()  # the ORM sets alice's path on the session
        assert getattr(connection.connection, SESSION_PATH) == (alice_tenant.schema_name, "public")
        with CaptureQueriesContext(connection) as first:
            assert session_path() == "public"
        assert session_path() == "public"
    assert getattr(connection.connection, SESSION_PATH) == STATEMENT_PATH
    # The SET is sent by the cursor's own connection, before its statement: not by the wrapper.
    assert sets_of(first) == []


def test_no_set_is_sent_while_the_session_stays_on_the_statement_path(
    alice_tenant: Tenant,
) -> None:
    session_path()
    raw = connection.connection
    sent: list[str] = []
    real = raw.execute

    def execute(query: str, *args: object, **kwargs: object) -> object:
        sent.append(query)
        return real(query, *args, **kwargs)

    raw.execute = execute
    try:
        for _ in range(3):
            assert session_path() == "public"
        assert not [query for query in sent if "search_path" in query]
        with tenant_context(alice_tenant):
            Location.objects.count()
        assert session_path() == "public"
        assert len([query for query in sent if "search_path" in query]) == 1
    finally:
        del raw.execute


def test_the_orm_sets_its_shops_path_again_after_a_statement(
    alice_tenant: Tenant, charlie_tenant: Tenant
) -> None:
    """The dangerous order: the same shop's ORM queries on both sides of a statement. Were the
    ORM to trust its remembered path, its second query would read the public schema."""
    with tenant_context(charlie_tenant):
        Location.objects.create(name="Charlie only", code="charlie-only", country="ES")
    with tenant_context(alice_tenant):
        before = set(Location.objects.values_list("code", flat=True))
        assert session_path() == "public"
        with CaptureQueriesContext(connection) as after_statement:
            after = set(Location.objects.values_list("code", flat=True))
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('search_path')")
            row = cursor.fetchone()
    assert after == before
    assert "charlie-only" not in after
    assert len(sets_of(after_statement)) == 1, "alice's path set again before her query"
    assert row is not None
    assert alice_tenant.schema_name in str(row[0])


def real_session_path() -> tuple[str, ...]:
    raw = connection.connection
    assert raw is not None
    row = raw.execute("SELECT current_schemas(false)").fetchone()
    assert row is not None
    return tuple(row[0])


def statement_then_failure() -> None:
    with transaction.atomic():
        assert session_path() == "public"
        raise RuntimeError


def test_after_a_rollback_the_noted_path_is_the_sessions_own(alice_tenant: Tenant) -> None:
    """A rollback undoes a SET made inside it: the backend forgets the path it noted, and what
    it notes next is what the session is really on."""
    with tenant_context(alice_tenant):
        Location.objects.count()
        with pytest.raises(RuntimeError):
            statement_then_failure()
        noted = getattr(connection.connection, SESSION_PATH)
        assert noted in (None, real_session_path())
        assert session_path() == "public"
        assert getattr(connection.connection, SESSION_PATH) == STATEMENT_PATH
        assert real_session_path() == STATEMENT_PATH
        # And the ORM is back on alice's path for its next query.
        assert Location.objects.count() >= 0
        assert getattr(connection.connection, SESSION_PATH) == real_session_path()
        assert real_session_path() == (alice_tenant.schema_name, "public")
