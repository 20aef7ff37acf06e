"""Typed access to django-tenants' state on the database connection.

django-tenants adds ``tenant``, ``schema_name`` and the schema setters to the connection at run
time, where the type checker cannot see them. Every read and switch goes through here, so the
rest of the code is checked and none of it needs ``type: ignore``.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, cast

from django.db import connection
from django.http import HttpRequest
from django_tenants.models import TenantMixin
from django_tenants.utils import get_public_schema_name, schema_context


class TenantConnection(Protocol):
    """What django-tenants' database wrapper adds to Django's connection."""

    tenant: TenantMixin
    schema_name: str
    search_path_set_schemas: list[str] | None

    def set_tenant(self, tenant: TenantMixin, include_public: bool = True) -> None: ...

    def set_schema(self, schema_name: str, include_public: bool = True) -> None: ...

    def set_schema_to_public(self) -> None: ...


class TenantRequest(HttpRequest):
    """A request routed to a host: ``tenant`` is set by the tenant routing middleware."""

    tenant: TenantMixin


def tenant_connection() -> TenantConnection:
    return cast(TenantConnection, connection)


def current_tenant() -> TenantMixin:
    """The tenant the connection is set to (a FakeTenant for a bare schema or public)."""
    return tenant_connection().tenant


def current_tenant_id() -> int:
    """The id of the tenant whose schema the connection uses; fails loudly outside one."""
    pk = getattr(current_tenant(), "pk", None)
    if pk is None:
        raise RuntimeError("No tenant is set on the connection")
    return int(pk)


def current_schema() -> str:
    return tenant_connection().schema_name


def use_public_schema() -> None:
    """Switches the connection to the public schema for the rest of this request or task."""
    tenant_connection().set_schema_to_public()


@contextmanager
def public_schema() -> Iterator[None]:
    """Runs a block in the public schema and puts the caller's schema back afterwards."""
    with schema_context(get_public_schema_name()):
        yield
