import pytest
from pytest_django import DjangoCaptureOnCommitCallbacks

from tenants import tasks
from tenants.models import Tenant
from tenants.services import tenant_create
from tests.tenants.factories import TenantFactory

pytestmark = pytest.mark.django_db


def test_provision_task_provisions() -> None:
    tenant = TenantFactory.create(slug="tasked")
    tasks.tenant_provision_task(tenant_id=tenant.pk)
    assert Tenant.objects.get(pk=tenant.pk).ready


def test_pending_task_returns_the_ids_it_provisioned() -> None:
    assert tasks.tenants_provision_pending() == []


def test_provisioning_is_queued_on_redis_after_commit(
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        tenant_create(name="Queued", slug="queued", owner_email="o@queued.example")
    # The message went to the real broker; the worker is not running in tests, so the tenant
    # waits, not ready, exactly as a new sign-up waits for a busy worker.
    assert not Tenant.objects.get(slug="queued").ready
