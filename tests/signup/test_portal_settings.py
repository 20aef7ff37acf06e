"""Settings: retention, shopper export and erasure; the audit log; the nightly purge job."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import User
from customerinfo.core.models import AuditEntry
from signup import services, tasks
from signup.models import RetailerSettings, Submission
from tenants.models import Tenant
from tests.signup.factories import (
    device_create,
    form_create,
    location_create,
    submission_create,
)

pytestmark = pytest.mark.django_db


def _shoppers(tenant: Tenant) -> None:
    with tenant_context(tenant):
        form_create()
        device, _ = device_create(location_create())
        submission_create(device, "ann@example.com", sms=True)
        submission_create(device, "ann@example.com")
        submission_create(device, "bea@example.com")


def test_owner_changes_retention(owner_client: Client, alice_tenant: Tenant) -> None:
    assert b'value="730"' in owner_client.get("/settings/").content
    response = owner_client.post("/settings/", {"retention_days": "365"}, follow=True)
    assert b"Retention period saved." in response.content
    with tenant_context(alice_tenant):
        assert RetailerSettings.objects.get().retention_days == 365
        assert AuditEntry.objects.get(action="settings.retention").new == {"retention_days": 365}
    response = owner_client.post("/settings/", {"retention_days": "5"})
    assert response.status_code == 400
    assert b"30 to 3650 days." in response.content
    response = owner_client.post("/settings/", {"retention_days": "many"})
    assert response.status_code == 400


def test_manager_sees_retention_but_cannot_change_it(
    manager_client: Client, alice_tenant: Tenant
) -> None:
    page = manager_client.get("/settings/").content.decode()
    assert "kept for 730 days" in page
    assert 'name="retention_days"' not in page
    assert manager_client.post("/settings/", {"retention_days": "90"}).status_code == 403
    with tenant_context(alice_tenant):
        assert services.retailer_settings().retention_days == 730


def test_export_one_shoppers_data(manager_client: Client, alice_tenant: Tenant) -> None:
    _shoppers(alice_tenant)
    response = manager_client.post("/settings/shopper-export/", {"export-email": "ANN@example.com"})
    assert response["Content-Disposition"] == 'attachment; filename="shopper-export.json"'
    data = json.loads(response.content)
    assert data["email"] == "ann@example.com"
    assert len(data["submissions"]) == 2
    assert "bea@example.com" not in response.content.decode()
    with tenant_context(alice_tenant):
        entry = AuditEntry.objects.get(action="shopper.export")
        assert (entry.new or {})["submissions"] == 2
        assert "ann@example.com" not in json.dumps(entry.new)
    response = manager_client.post("/settings/shopper-export/", {"export-email": "nope"})
    assert response.status_code == 302


def test_erase_asks_then_erases_and_audits(manager_client: Client, alice_tenant: Tenant) -> None:
    _shoppers(alice_tenant)
    confirm = manager_client.post("/settings/shopper-erase/", {"erase-email": "ann@example.com"})
    assert b"2 sign-ups" in confirm.content
    assert b'name="confirm" value="yes"' in confirm.content
    with tenant_context(alice_tenant):
        assert Submission.objects.filter(email="ann@example.com").count() == 2
    response = manager_client.post(
        "/settings/shopper-erase/",
        {"erase-email": "ann@example.com", "confirm": "yes"},
        follow=True,
    )
    assert b"Erased 2 sign-ups of ann@example.com" in response.content
    with tenant_context(alice_tenant):
        assert not Submission.objects.filter(email="ann@example.com").exists()
        assert Submission.objects.filter(email="bea@example.com").exists()
        entry = AuditEntry.objects.get(action="shopper.erase")
        assert (entry.new or {})["submissions_deleted"] == 2
        assert entry.actor is not None
    nothing = manager_client.post("/settings/shopper-erase/", {"erase-email": "zed@example.com"})
    assert b"No sign-up has this address." in nothing.content
    bad = manager_client.post("/settings/shopper-erase/", {"erase-email": ""}, follow=True)
    assert b"Enter the shopper&#x27;s email address to erase" in bad.content


def test_audit_log_newest_first_with_old_and_new(
    manager_client: Client, alice_tenant: Tenant, alice: User
) -> None:
    with tenant_context(alice_tenant):
        services.retention_update(actor=alice, days=400)
        services.retention_update(actor=None, days=500)
        form = services.form_create(actor=alice, name="Long")
        services.form_draft_update(actor=alice, form=form, definition=form.draft)
    page = manager_client.get("/audit/").content.decode()
    assert page.index("form.draft_update") < page.index("settings.retention")
    assert "alice@alice.example" in page
    assert "System" in page
    assert "{&quot;retention_days&quot;: 730}" in page
    assert "<details>" in page  # long values fold away


def test_audit_log_pages(manager_client: Client, alice_tenant: Tenant) -> None:
    with tenant_context(alice_tenant):
        row = services.retailer_settings()
        for number in range(51):
            # Made-up actions, numbered, so that the page order can be read off the page.
            AuditEntry.objects.create(
                action=f"test.{number}", object_type="signup.retailersettings", object_id=row.pk
            )
    first = manager_client.get("/audit/").content.decode()
    assert "Page 1 of 2" in first
    assert "test.50" in first
    assert "test.0<" not in first
    assert "test.0<" in manager_client.get("/audit/?page=2").content.decode()


def test_purge_task_runs_in_the_named_tenant(alice_tenant: Tenant) -> None:
    _shoppers(alice_tenant)
    with tenant_context(alice_tenant):
        Submission.objects.filter(email="bea@example.com").update(
            received_at=timezone.now() - timedelta(days=800)
        )
    assert tasks.retention_purge_task(schema_name=alice_tenant.schema_name) == 1
    with tenant_context(alice_tenant):
        assert not Submission.objects.filter(email="bea@example.com").exists()
        assert Submission.objects.count() == 2
        assert AuditEntry.objects.filter(action="submission.purge").exists()


def test_purge_fans_out_to_every_ready_tenant(
    alice_tenant: Tenant, charlie_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    Tenant.objects.create(name="Not yet", slug="notyet", schema_name="t_notyet", ready=False)
    sent: list[str] = []
    monkeypatch.setattr(
        tasks.retention_purge_task, "delay", lambda *, schema_name: sent.append(schema_name)
    )
    schemas = tasks.retention_purge_all()
    assert sorted(sent) == sorted(schemas)
    assert {alice_tenant.schema_name, charlie_tenant.schema_name} <= set(sent)
    assert "t_notyet" not in sent


def test_purge_runs_nightly() -> None:
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["signup-retention-purge"]
    assert entry["task"] == "signup.tasks.retention_purge_all"
