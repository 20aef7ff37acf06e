"""The Celery app, aware of tenants.

Every piece of tenant work names its schema explicitly: tasks built with ``tenant_task`` take a
keyword-only ``schema_name`` and run inside that tenant's schema. They refuse ``public`` (tenant
tables do not exist there, and running a tenant's job against public data is how one retailer's
data would leak into another's), and they wait for a tenant that is still being provisioned.
"""

import os
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from celery import Celery, Task

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customerinfo.settings")

app = Celery("customerinfo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

#: How long a task for a tenant that is still being provisioned waits before trying again.
NOT_READY_RETRY_SECONDS = 15


class TenantTaskError(Exception):
    """A tenant task was called without a usable tenant; retrying will not help."""


class TenantTask(Task):  # type: ignore[type-arg]
    """Runs the task inside the schema named by its ``schema_name`` keyword argument."""

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

        from tenants.models import Tenant

        schema_name = kwargs.get("schema_name")
        if not schema_name:
            raise TenantTaskError(f"{self.name} needs a schema_name keyword argument")
        if schema_name == get_public_schema_name():
            raise TenantTaskError(f"{self.name} refuses to run tenant work in the public schema")
        # Contexts, not set_schema_*: a task run in-process (apply) leaves the caller's schema
        # as it found it.
        with schema_context(get_public_schema_name()):
            tenant = Tenant.objects.filter(schema_name=schema_name).first()
        if tenant is None:
            raise TenantTaskError(f"{self.name}: no tenant has the schema {schema_name!r}")
        if not tenant.ready:
            raise self.retry(countdown=NOT_READY_RETRY_SECONDS, max_retries=None)
        with tenant_context(tenant):
            return super().__call__(*args, **kwargs)


P = ParamSpec("P")
R = TypeVar("R")


def tenant_task(**options: Any) -> Callable[[Callable[P, R]], "Task[P, R]"]:
    """``@tenant_task()`` in place of ``@app.task`` for work inside one tenant's schema."""

    def decorate(function: Callable[P, R]) -> "Task[P, R]":
        task: Task[P, R] = app.task(base=TenantTask, **options)(function)  # type: ignore[no-untyped-call]
        return task

    return decorate
