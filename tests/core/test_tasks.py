"""Tenant tasks run in their tenant's schema and nowhere else."""

import pytest
from celery.exceptions import Retry

from customerinfo.celery import app
from customerinfo.core.tasks import TenantTaskError, tenant_task
from customerinfo.core.tenancy import current_schema
from tenants.models import Tenant
from tests.tenants.factories import TenantFactory

pytestmark = pytest.mark.django_db


@tenant_task(name="tests.schema_of_the_task")
def schema_of_the_task(*, schema_name: str) -> str:
    return current_schema()


def test_the_task_runs_inside_the_named_schema(alice_tenant: Tenant) -> None:
    assert schema_of_the_task(schema_name="t_alice") == "t_alice"


def test_the_schema_travels_with_the_message(alice_tenant: Tenant) -> None:
    result = schema_of_the_task.apply(kwargs={"schema_name": "t_charlie"})
    assert result.get() == "t_charlie"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({}, "needs a schema_name"),
        ({"schema_name": "public"}, "refuses to run tenant work in the public schema"),
        ({"schema_name": "t_nobody"}, "no tenant has the schema"),
    ],
)
def test_tasks_without_a_usable_tenant_are_refused(kwargs: dict[str, str], reason: str) -> None:
    with pytest.raises(TenantTaskError, match=reason):
        schema_of_the_task(**kwargs)


def test_a_tenant_still_provisioning_makes_the_task_wait() -> None:
    TenantFactory.create(schema_name="t_soon", ready=False)
    with pytest.raises(Retry):
        schema_of_the_task.apply(kwargs={"schema_name": "t_soon"}, throw=True)


def test_settings_that_keep_tasks_from_being_lost() -> None:
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit < conf.broker_transport_options["visibility_timeout"]
    assert "tenants-provision-pending" in conf.beat_schedule
