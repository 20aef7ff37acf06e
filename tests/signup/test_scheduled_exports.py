"""Scheduled exports: made each morning of the shop's time zone for the day (or week) before, as
the background exports a manager asks for by hand, once per user and period, then written by
the worker and mailed as a link; only for shops whose morning it is; none of another shop's."""

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from django_tenants.utils import tenant_context
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from customerinfo.core.accounts.models import User
from signup import tasks
from signup.models import Export, ExportStatus, NotificationPreference, PeriodicMail, Submission
from signup.services import scheduled_exports
from tenants.models import Tenant
from tests.conftest import host_of
from tests.signup.factories import device_create, form_create, location_create, submission_create

pytestmark = pytest.mark.django_db

#: Tuesday 18 November 2025, 07:30 in Paris: the daily export covers Monday the 17th.
TUESDAY = datetime(2025, 11, 18, 6, 30, tzinfo=UTC)
#: Monday 17 November 2025, 07:30 in Paris: the weekly export covers the 10th to the 16th.
MONDAY = datetime(2025, 11, 17, 6, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def export_files(settings: Settings, tmp_path: Path) -> Path:
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    return tmp_path


@pytest.fixture
def shop(alice_tenant: Tenant, bob: User) -> int:
    """Paris (Europe/Paris) with sign-ups on Sunday 16, Monday 17 (two) and Tuesday 18 Nov;
    Lyon with one on Monday. bob chose a daily export of Paris. Returns Paris's id."""
    with tenant_context(alice_tenant):
        form_create()
        paris = location_create()
        till, _ = device_create(paris)
        lyon_till, _ = device_create(location_create(code="lyon", name="Lyon"))
        for email, moment in [
            ("sun@example.com", datetime(2025, 11, 16, 12, tzinfo=UTC)),
            ("mon1@example.com", datetime(2025, 11, 16, 23, 30, tzinfo=UTC)),  # Monday in Paris
            ("mon2@example.com", datetime(2025, 11, 17, 20, tzinfo=UTC)),
            ("tue@example.com", datetime(2025, 11, 17, 23, 30, tzinfo=UTC)),  # Tuesday in Paris
        ]:
            submission_create(till, email, received_at=moment)
        submission_create(
            lyon_till, "lyon@example.com", received_at=datetime(2025, 11, 17, 9, tzinfo=UTC)
        )
        NotificationPreference.objects.create(
            user=bob,
            export_schedule="daily",
            export_filters={"location": str(paris.pk)},
            portal_origin=f"http://{host_of(alice_tenant)}",
        )
        return paris.pk


@pytest.fixture
def worker(
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> Callable[[Callable[[], Any]], Any]:
    """Runs ``action``, then the export tasks it queued, as the worker would."""

    def run(action: Callable[[], Any]) -> Any:
        queued: list[dict[str, str]] = []
        monkeypatch.setattr(tasks.export_run_task, "delay", lambda **kw: queued.append(kw))
        with django_capture_on_commit_callbacks(execute=True):
            result = action()
        for kwargs in queued:
            # In the shop's schema, as the ready mail is sent after the task's commit.
            tenant = Tenant.objects.get(schema_name=kwargs["schema_name"])
            with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
                tasks.export_run_task(**kwargs)
        return result

    return run


def test_daily_export_is_made_once_for_the_day_before_and_mailed(
    alice_tenant: Tenant, shop: int, worker: Callable[[Callable[[], Any]], Any], export_files: Path
) -> None:
    schema = alice_tenant.schema_name
    made = worker(lambda: scheduled_exports_at(schema, TUESDAY))
    assert made == (1, 0)
    # The beat's next run of the morning, and a second worker at once: nothing more.
    assert worker(lambda: scheduled_exports_at(schema, TUESDAY + timedelta(hours=1))) == (0, 0)
    assert worker(lambda: scheduled_exports_at(schema, TUESDAY + timedelta(hours=1))) == (0, 0)
    with tenant_context(alice_tenant):
        [export] = Export.objects.all()
        [claim] = PeriodicMail.objects.all()
        assert (claim.kind, claim.period_start, claim.export_id) == (
            "daily_export",
            date(2025, 11, 17),
            export.pk,
        )
        assert export.status == ExportStatus.DONE
        assert export.requested_by is not None
        assert export.requested_by.email == "bob@alice.example"
        assert export.filters["date_from"] == export.filters["date_to"] == "2025-11-17"
        assert export.filters["location"] == str(shop)
        text = (export_files / export.file_name).read_text()
    emails = sorted(row["email"] for row in csv.DictReader(io.StringIO(text)))
    assert emails == ["mon1@example.com", "mon2@example.com"]  # Paris's Monday, Lyon left out
    [ready] = mail.outbox
    assert ready.to == ["bob@alice.example"]
    assert f"http://{host_of(alice_tenant)}/signups/exports/{export.pk}/" in ready.body


def test_weekly_export_on_monday_covers_last_week(
    alice_tenant: Tenant, alice: User, shop: int, worker: Callable[[Callable[[], Any]], Any]
) -> None:
    with tenant_context(alice_tenant):
        NotificationPreference.objects.create(user=alice, export_schedule="weekly")
    assert worker(lambda: scheduled_exports_at(alice_tenant.schema_name, TUESDAY)) == (1, 0)
    with tenant_context(alice_tenant):
        assert not Export.objects.filter(requested_by=alice).exists()  # not on a Tuesday
    counts = worker(lambda: scheduled_exports_at(alice_tenant.schema_name, MONDAY))
    assert counts[0] == 2  # bob's daily (Sunday) and alice's weekly
    with tenant_context(alice_tenant):
        weekly = Export.objects.get(requested_by=alice)
        assert (weekly.filters["date_from"], weekly.filters["date_to"]) == (
            "2025-11-10",
            "2025-11-16",
        )
        assert weekly.filters["location"] == ""  # all sign-ups
        assert (
            weekly.row_count
            == Submission.objects.filter(
                received_at__lt=datetime(2025, 11, 16, 23, tzinfo=UTC)
            ).count()
        )


def test_only_shops_whose_morning_it_is_are_visited(
    alice_tenant: Tenant, charlie_tenant: Tenant, shop: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[dict[str, str]] = []
    monkeypatch.setattr(tasks.morning_mail_task, "delay", lambda **kw: queued.append(kw))
    monkeypatch.setattr(timezone, "now", lambda: TUESDAY)  # 07:30 in Paris, 06:30 in UTC
    assert alice_tenant.schema_name in tasks.morning_mail_all()
    monkeypatch.setattr(timezone, "now", lambda: TUESDAY - timedelta(hours=2))  # 05:30 in Paris
    assert alice_tenant.schema_name not in tasks.morning_mail_all()


def test_nothing_of_alices_is_exported_for_charlie(
    alice_tenant: Tenant, charlie_tenant: Tenant, charlie: User, shop: int
) -> None:
    with tenant_context(charlie_tenant):
        NotificationPreference.objects.create(user=charlie, export_schedule="daily")
    assert scheduled_exports_at(charlie_tenant.schema_name, TUESDAY) == (1, 0)
    with tenant_context(charlie_tenant):
        [export] = Export.objects.all()
        assert export.requested_by == charlie
        assert export.portal_origin == f"https://{host_of(charlie_tenant)}"
    with tenant_context(alice_tenant):
        assert not Export.objects.filter(requested_by__email="charlie@charlie.example").exists()


def scheduled_exports_at(schema_name: str, now: datetime) -> tuple[int, int]:
    """What the morning task does in one shop, at ``now``."""
    with tenant_context(Tenant.objects.get(schema_name=schema_name)):
        return scheduled_exports.morning_mail_send(now=now)
