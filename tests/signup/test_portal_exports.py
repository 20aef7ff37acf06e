"""Exports too large to stream: asked for on the list, written by the worker's task, mailed,
downloaded by managers of that shop only while the link lasts, then purged."""

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from customerinfo.core.accounts.models import User
from customerinfo.core.models import AuditEntry
from signup import services, tasks
from signup.csv_rows import CSV_HEADER
from signup.models import Device, Export, ExportStatus, Location
from tenants.models import Tenant
from tests.conftest import login
from tests.signup.factories import (
    device_create,
    form_create,
    location_create,
    staff_create,
    submission_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_exports(settings: Settings, tmp_path: Path) -> Path:
    """Exports of more than two rows go to the worker, and their files to a folder of the test."""
    settings.SIGNUP_EXPORT_STREAM_MAX_ROWS = 2
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    return tmp_path


@pytest.fixture
def shop(alice_tenant: Tenant) -> tuple[Location, Device]:
    """Paris with three sign-ups (two with SMS consent), Lyon with one."""
    with tenant_context(alice_tenant):
        form_create()
        paris = location_create()
        till, _ = device_create(paris)
        lyon_till, _ = device_create(location_create(code="lyon", name="Lyon"))
        submission_create(till, "ann@example.com", sms=True, first_name="=cmd()")
        submission_create(till, "amy@example.com", sms=True)
        submission_create(till, "ava@example.com")
        submission_create(lyon_till, "bea@example.com")
    return paris, till


@pytest.fixture
def run_worker(
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Callable[[Callable[[], Any]], Any]:
    """Runs ``action`` and then, as the worker would, the export task it queued after commit."""

    def run(action: Callable[[], Any]) -> Any:
        queued: list[dict[str, str]] = []
        monkeypatch.setattr(tasks.export_run_task, "delay", lambda **kw: queued.append(kw))
        with django_capture_on_commit_callbacks(execute=True):
            result = action()
        for kwargs in queued:
            with django_capture_on_commit_callbacks(execute=True):  # the ready mail
                tasks.export_run_task(**kwargs)
        return result

    return run


def _rows(body: bytes) -> list[dict[str, str]]:
    text = body.decode()
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def test_a_large_list_offers_a_prepared_export_not_a_stream(
    manager_client: Client, shop: tuple[Location, Device]
) -> None:
    page = manager_client.get("/signups/").content.decode()
    assert "Prepare CSV" in page
    assert "Download CSV" not in page
    response = manager_client.get("/signups/export.csv")
    assert response.status_code == 302  # sent to the list, told to prepare it instead
    small = manager_client.get("/signups/", {"email": "ann@example.com"}).content.decode()
    assert "Download CSV" in small  # one row: streamed as before


def test_export_end_to_end(
    manager_client: Client,
    alice_tenant: Tenant,
    bob: User,
    shop: tuple[Location, Device],
    run_worker: Callable[[Callable[[], Any]], Any],
) -> None:
    paris, _ = shop
    response = run_worker(
        lambda: manager_client.post("/signups/exports/", {"location": paris.pk, "consent": "sms"})
    )
    with tenant_context(alice_tenant):
        export = Export.objects.get()
        audit = AuditEntry.objects.get(action="submission.export")
    assert response.status_code == 302
    assert response["Location"] == f"/signups/exports/{export.pk}/"
    assert export.requested_by == bob
    assert export.status == ExportStatus.DONE
    assert export.row_count == 2
    assert export.expires_at is not None
    assert timedelta(hours=23) < export.expires_at - timezone.now() <= timedelta(hours=24)
    assert (audit.new or {})["filters"]["location"] == "Paris Rivoli"
    # The file is in the exports storage (the test's folder), under the tenant's schema.
    assert export.file_name.startswith(f"{alice_tenant.schema_name}/")
    assert services.exports_storage().exists(export.file_name)

    (message,) = mail.outbox
    assert message.to == ["bob@alice.example"]
    link = re.search(r"http://\S+", str(message.body))
    assert link is not None
    assert (
        link.group(0) == f"http://{alice_tenant.get_primary_domain()}/signups/exports/{export.pk}/"
    )

    detail = manager_client.get(f"/signups/exports/{export.pk}/").content.decode()
    assert "Ready" in detail
    assert f"/signups/exports/{export.pk}/download/" in detail
    download = manager_client.get(f"/signups/exports/{export.pk}/download/")
    assert download.status_code == 200
    assert download["Cache-Control"] == "no-store"
    assert download["Content-Disposition"].startswith('attachment; filename="signups-')
    rows = _rows(_body(download))
    assert list(rows[0]) == CSV_HEADER
    assert sorted(row["email"] for row in rows) == ["amy@example.com", "ann@example.com"]
    by_email = {row["email"]: row for row in rows}
    assert by_email["ann@example.com"]["first_name"] == "'=cmd()"  # defused, as streamed
    assert by_email["ann@example.com"]["sms_consent"] == "granted"
    assert by_email["ann@example.com"]["form_version"] == "1"
    assert by_email["ann@example.com"]["store_code"] == "paris"
    listed = manager_client.get("/signups/exports/").content.decode()
    assert "Ready" in listed
    assert f"/signups/exports/{export.pk}/download/" in listed


def test_the_link_expires_and_the_purge_deletes_the_file(
    manager_client: Client,
    alice_tenant: Tenant,
    shop: tuple[Location, Device],
    run_worker: Callable[[Callable[[], Any]], Any],
) -> None:
    run_worker(lambda: manager_client.post("/signups/exports/", {}))
    with tenant_context(alice_tenant):
        export = Export.objects.get()
        assert export.row_count == 4
        Export.objects.filter(pk=export.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = manager_client.get(f"/signups/exports/{export.pk}/download/")
    assert response.status_code == 410
    assert services.exports_storage().exists(export.file_name)  # until the purge runs
    assert tasks.exports_purge_task(schema_name=alice_tenant.schema_name) == 1
    assert not services.exports_storage().exists(export.file_name)
    with tenant_context(alice_tenant):
        export.refresh_from_db()
    assert export.status == ExportStatus.EXPIRED
    assert export.file_name == ""
    assert manager_client.get(f"/signups/exports/{export.pk}/download/").status_code == 410
    assert "has expired" in manager_client.get(f"/signups/exports/{export.pk}/").content.decode()


def test_exports_whose_worker_was_lost_are_marked_failed(in_alice: Tenant) -> None:
    lost = Export.objects.create(status=ExportStatus.RUNNING)
    recent = Export.objects.create(status=ExportStatus.QUEUED)
    Export.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=3))
    services.exports_purge()
    lost.refresh_from_db()
    recent.refresh_from_db()
    assert lost.status == ExportStatus.FAILED
    assert "ask for the export again" in lost.error
    assert recent.status == ExportStatus.QUEUED


def test_a_failed_export_says_why_and_a_repeated_message_does_nothing(
    in_alice: Tenant, bob: User
) -> None:
    # The store it was filtered on is gone: the worker must not widen it to every store.
    export = Export.objects.create(requested_by=bob, filters={"location": "999999"})
    services.export_run(export_id=export.pk)
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert "DoesNotExist" in export.error
    assert services.export_run(export_id=export.pk) is None
    assert not mail.outbox


def test_exports_purge_fans_out_hourly(
    alice_tenant: Tenant, charlie_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.conf import settings

    sent: list[str] = []
    monkeypatch.setattr(
        tasks.exports_purge_task, "delay", lambda *, schema_name: sent.append(schema_name)
    )
    assert sorted(tasks.exports_purge_all()) == sorted(sent)
    assert {alice_tenant.schema_name, charlie_tenant.schema_name} <= set(sent)
    entry = settings.CELERY_BEAT_SCHEDULE["signup-exports-purge"]
    assert entry["task"] == "signup.tasks.exports_purge_all"


@pytest.fixture
def alices_export(alice_tenant: Tenant, small_exports: Path) -> Export:
    """A finished export of alice's, with its file."""
    with tenant_context(alice_tenant):
        name = services.exports_storage().save(
            f"{alice_tenant.schema_name}/signups.csv", io.BytesIO(b"\xef\xbb\xbfid\n")
        )
        return Export.objects.create(
            status=ExportStatus.DONE,
            file_name=name,
            row_count=0,
            expires_at=timezone.now() + timedelta(hours=1),
        )


def test_charlie_finds_nothing_of_alices_exports(
    charlie_client: Client, charlie_tenant: Tenant, charlie: User, alices_export: Export
) -> None:
    login(charlie_client, charlie_tenant, charlie)
    for path in ("", "download/"):
        response = charlie_client.get(f"/signups/exports/{alices_export.pk}/{path}")
        assert response.status_code == 404
    assert str(alices_export.pk) not in charlie_client.get("/signups/exports/").content.decode()


def test_charlie_signed_in_on_his_host_is_a_stranger_on_alices(
    alice_client: Client, charlie_tenant: Tenant, charlie: User, alices_export: Export
) -> None:
    login(alice_client, charlie_tenant, charlie)  # his session lives in his schema only
    response = alice_client.get(f"/signups/exports/{alices_export.pk}/download/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_staff_may_not_export(
    alice_client: Client, alice_tenant: Tenant, alices_export: Export
) -> None:
    with tenant_context(alice_tenant):
        sam = staff_create()
    login(alice_client, alice_tenant, sam)
    for path in ("", f"{alices_export.pk}/", f"{alices_export.pk}/download/"):
        assert alice_client.get(f"/signups/exports/{path}").status_code == 403
    assert alice_client.post("/signups/exports/", {}).status_code == 403
    with tenant_context(alice_tenant):
        assert Export.objects.count() == 1


def test_the_owner_downloads_a_managers_export(owner_client: Client, alices_export: Export) -> None:
    response = owner_client.get(f"/signups/exports/{alices_export.pk}/download/")
    assert response.status_code == 200
    assert _body(response) == b"\xef\xbb\xbfid\n"


def test_pending_exports_page_refreshes_itself(manager_client: Client, in_alice: Tenant) -> None:
    Export.objects.create(status=ExportStatus.QUEUED)
    page = manager_client.get("/signups/exports/").content.decode()
    assert 'hx-trigger="every 3s"' in page
    assert "Waiting" in page
