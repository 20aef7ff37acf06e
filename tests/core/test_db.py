"""Statements that name their tenant's schema, and connections renewed after many schemas."""

from collections.abc import Iterator

import pytest
from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from pytest_django import DjangoDbBlocker, Settings

from customerinfo.core.db import (
    connection_recycle_if_spread,
    schema_cursor,
    schema_quote,
    schema_statement,
    schemas_met,
    tenant_qualified,
)


def test_tenant_tables_are_named_in_the_schema_and_public_ones_left_alone() -> None:
    sql = (
        "SELECT s.id FROM signup_submission AS s JOIN public.crm_outbox_delivery AS d"
        " ON d.submission_id = s.id JOIN tenants_tenant AS t ON true"
        " WHERE s.signup_submission_note = 1 AND x.signup_device = 2"
    )
    assert tenant_qualified(sql, schema="t_alice") == (
        'SELECT s.id FROM "t_alice".signup_submission AS s JOIN public.crm_outbox_delivery AS d'
        " ON d.submission_id = s.id JOIN tenants_tenant AS t ON true"
        " WHERE s.signup_submission_note = 1 AND x.signup_device = 2"
    )


def test_a_schema_name_is_quoted_whatever_it_holds() -> None:
    assert schema_quote('Shop-"1".x') == '"Shop-""1"".x"'
    assert tenant_qualified("SELECT {1} FROM signup_device", schema="A b") == (
        'SELECT {1} FROM "A b".signup_device'
    )


@pytest.fixture
def own_connection(django_db_blocker: DjangoDbBlocker) -> Iterator[BaseDatabaseWrapper]:
    """A connection of its own, outside the test's transaction, so it can be closed."""
    with django_db_blocker.unblock():
        wrapper = connections.create_connection("default")
        wrapper.ensure_connection()
        yield wrapper
        wrapper.close()


def test_a_connection_is_renewed_once_past_its_schemas(
    own_connection: BaseDatabaseWrapper, settings: Settings
) -> None:
    settings.DATABASE_CONN_MAX_SCHEMAS = 2
    assert not connection_recycle_if_spread("t_a", using=own_connection)
    assert not connection_recycle_if_spread("t_b", using=own_connection)
    assert not connection_recycle_if_spread("t_a", using=own_connection), "met already"
    assert own_connection.connection is not None
    assert connection_recycle_if_spread("t_c", using=own_connection)
    assert own_connection.connection is None
    # The fresh connection starts counting again.
    own_connection.ensure_connection()
    assert schemas_met("t_c", using=own_connection) == 1


def test_inside_a_transaction_it_only_counts(
    own_connection: BaseDatabaseWrapper, settings: Settings
) -> None:
    settings.DATABASE_CONN_MAX_SCHEMAS = 1
    own_connection.set_autocommit(False)
    own_connection.in_atomic_block = True
    try:
        for schema in ("t_a", "t_b", "t_c"):
            assert not connection_recycle_if_spread(schema, using=own_connection)
        assert own_connection.connection is not None
        assert schemas_met("t_a", using=own_connection) == 3
    finally:
        own_connection.in_atomic_block = False
        own_connection.rollback()
        own_connection.set_autocommit(True)


def test_no_limit_never_renews(own_connection: BaseDatabaseWrapper, settings: Settings) -> None:
    settings.DATABASE_CONN_MAX_SCHEMAS = 0
    for index in range(5):
        assert not connection_recycle_if_spread(f"t_{index}", using=own_connection)


@pytest.mark.django_db
def test_statements_of_a_schema_cursor_keep_their_generic_plan_from_the_first_run() -> None:
    """Set once per connection, before its first hand-written statement."""
    with schema_cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("force_generic_plan",)
    raw = connection.connection
    assert raw is not None
    with schema_cursor() as cursor:
        cursor.execute("SELECT 1")
    assert connection.connection is raw, "the same connection, set once"


def test_a_schema_statement_numbers_its_parameters_once_for_every_shop() -> None:
    sql = (
        "INSERT INTO signup_device (name, token) SELECT %(name)s, %(token)s"
        " WHERE %(name)s <> '' AND 'a%%' <> %(token)s"
    )
    statement = schema_statement(sql, schema="t_alice")
    assert statement.text == (
        'INSERT INTO "t_alice".signup_device (name, token) SELECT $1, $2'
        " WHERE $1 <> '' AND 'a%' <> $2"
    )
    assert statement.arguments({"token": "x", "name": "n", "unused": 1}) == ("n", "x")
    other = schema_statement(sql, schema="t_bob")
    assert other.text == statement.text.replace('"t_alice"', '"t_bob"')
    assert other.names == statement.names


def test_a_lone_percent_sign_is_refused_not_sent() -> None:
    with pytest.raises(ValueError, match="lone %"):
        schema_statement("SELECT 1 FROM signup_device WHERE name LIKE 'a%'", schema="t_a")
