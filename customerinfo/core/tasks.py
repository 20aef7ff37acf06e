"""Celery tasks that run inside one tenant's schema.

Every piece of tenant work names its schema explicitly: tasks built with ``tenant_task`` take a
keyword-only ``schema_name`` and run inside that tenant's schema. They refuse ``public`` (tenant
tables do not exist there, and running a tenant's job against public data is how one retailer's
data would leak into another's), and they wait for a tenant that is still being provisioned.

``shared_task`` binds to the project's Celery app (``customerinfo.celery``) without importing
it, so the kernel stays below the wiring.
"""

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from celery import Task, shared_task

#: How long a task for a tenant that is still being provisioned waits before trying again.
NOT_READY_RETRY_SECONDS = 15


class TenantTaskError(Exception):
    """A tenant task was called without a usable tenant; retrying will not help."""


# celery-types makes Task generic over the wrapped function; this base class wraps any function.
class TenantTask(Task):  # type: ignore[type-arg]
    """Runs the task inside the schema named by its ``schema_name`` keyword argument."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from django_tenants.utils import get_public_schema_name, get_tenant_model, tenant_context

        from .tenancy import public_schema

        schema_name = kwargs.get("schema_name")
        if not schema_name:
            raise TenantTaskError(f"{self.name} needs a schema_name keyword argument")
        if schema_name == get_public_schema_name():
            raise TenantTaskError(f"{self.name} refuses to run tenant work in the public schema")
        # Contexts, not set_schema_*: a task run in-process (apply) leaves the caller's schema
        # as it found it.
        with public_schema():
            tenant = get_tenant_model()._default_manager.filter(schema_name=schema_name).first()
        if tenant is None:
            raise TenantTaskError(f"{self.name}: no tenant has the schema {schema_name!r}")
        if not getattr(tenant, "ready", True):
            raise self.retry(countdown=NOT_READY_RETRY_SECONDS, max_retries=None)
        with tenant_context(tenant):
            return super().__call__(*args, **kwargs)


P = ParamSpec("P")
R = TypeVar("R")


def tenant_task(**options: Any) -> Callable[[Callable[P, R]], "Task[P, R]"]:
    """``@tenant_task()`` in place of ``@shared_task`` for work inside one tenant's schema."""

    def decorate(function: Callable[P, R]) -> "Task[P, R]":
        # celery-types has no overload for a custom base with free-form options.
        task: Task[P, R] = shared_task(base=TenantTask, **options)(function)  # type: ignore[no-untyped-call]
        return task

    return decorate
