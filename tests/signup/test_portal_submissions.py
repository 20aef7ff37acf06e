"""Sign-ups in the portal: search, filters, and the streamed CSV export (pages, the date jump
and the searches at volume: test_portal_signups_list.py; prepared exports: test_portal_exports.py).
"""

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import User
from customerinfo.core.models import AuditEntry
from signup.models import Consent, Device, Location
from signup.views.signups import CSV_HEADER, csv_cell
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


@pytest.fixture
def stores(alice_tenant: Tenant) -> tuple[tuple[Location, Device], tuple[Location, Device]]:
    with tenant_context(alice_tenant):
        form_create()
        paris = location_create(code="paris", name="Paris")
        lyon = location_create(code="lyon", name="Lyon")
        paris_till, _ = device_create(paris)
        lyon_till, _ = device_create(lyon)
    return (paris, paris_till), (lyon, lyon_till)


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.streaming  # sent as it is read, never built whole in memory
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))


def test_staff_search_and_filter(
    alice_client: Client,
    alice_tenant: Tenant,
    stores: tuple[tuple[Location, Device], tuple[Location, Device]],
) -> None:
    (paris, paris_till), (_, lyon_till) = stores
    with tenant_context(alice_tenant):
        submission_create(paris_till, "ann@example.com", first_name="Ann", sms=True)
        submission_create(lyon_till, "bea@example.com")
        submission_create(
            paris_till, "old@example.com", received_at=datetime(2025, 1, 10, 12, tzinfo=UTC)
        )
        sam = staff_create()
    login(alice_client, alice_tenant, sam)
    page = alice_client.get("/signups/").content.decode()
    assert "3 sign-ups" in page
    assert "Ann" in page
    assert "+33612345678" in page
    assert "SMS marketing: yes" in page
    assert "Download CSV" not in page  # staff may look, not export
    page = alice_client.get("/signups/", {"email": "ANN@"}).content.decode()
    assert "1 sign-up;" not in page
    assert "1 sign-up." in page
    assert "bea@example.com" not in page
    page = alice_client.get("/signups/", {"location": paris.pk}).content.decode()
    assert "2 sign-ups" in page
    assert "bea@example.com" not in page
    page = alice_client.get(
        "/signups/", {"date_from": "2025-01-10", "date_to": "2025-01-10"}
    ).content.decode()
    assert "old@example.com" in page
    assert "ann@example.com" not in page
    page = alice_client.get("/signups/", {"date_from": "yesterday"}).content.decode()
    assert "Some filters were not understood" in page
    assert "3 sign-ups" in page


def test_csv_export_streams_the_filtered_rows_with_consents(
    alice_client: Client,
    alice_tenant: Tenant,
    bob: User,
    stores: tuple[tuple[Location, Device], tuple[Location, Device]],
) -> None:
    (paris, paris_till), (_, lyon_till) = stores
    with tenant_context(alice_tenant):
        submission_create(paris_till, "ann@example.com", first_name="=cmd()", sms=False)
        submission_create(paris_till, "amy@example.com", sms=True)
        submission_create(lyon_till, "bea@example.com")
    login(alice_client, alice_tenant, bob)
    response = alice_client.get("/signups/export.csv", {"location": paris.pk})
    assert isinstance(cast(Any, response), StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="signups-')
    rows = _csv(response)
    assert sorted(row["email"] for row in rows) == ["amy@example.com", "ann@example.com"]
    assert list(rows[0]) == CSV_HEADER
    by_email = {row["email"]: row for row in rows}
    assert by_email["ann@example.com"]["first_name"] == "'=cmd()"  # no formula in a sheet
    assert by_email["ann@example.com"]["email_consent"] == "granted"
    assert by_email["ann@example.com"]["sms_consent"] == "refused"
    assert by_email["amy@example.com"]["sms_consent"] == "granted"
    assert by_email["amy@example.com"]["phone"] == "+33612345678"
    assert len(by_email["amy@example.com"]["sms_consent_text_sha256"]) == 64
    assert by_email["amy@example.com"]["store_code"] == "paris"
    with tenant_context(alice_tenant):
        entry = AuditEntry.objects.get(action="submission.export")
        assert (entry.new or {})["filters"]["location"] == "Paris"


def test_csv_export_reads_in_chunks(
    alice_client: Client,
    alice_tenant: Tenant,
    alice: User,
    stores: tuple[tuple[Location, Device], tuple[Location, Device]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (_, paris_till), _ = stores
    with tenant_context(alice_tenant):
        for number in range(5):
            submission_create(paris_till, f"s{number}@example.com", sms=True)
    monkeypatch.setattr("signup.views.signups.CSV_CHUNK_SIZE", 2)
    login(alice_client, alice_tenant, alice)
    response = alice_client.get("/signups/export.csv")
    assert len(_csv(response)) == 5
    assert all(
        row["email_consent"] == "granted" for row in _csv(alice_client.get("/signups/export.csv"))
    )


def test_birthday_and_answers_columns(
    alice_client: Client,
    alice_tenant: Tenant,
    alice: User,
    stores: tuple[tuple[Location, Device], tuple[Location, Device]],
) -> None:
    (_, paris_till), _ = stores
    with tenant_context(alice_tenant):
        submission = submission_create(paris_till, "bday@example.com")
        from signup.models import Submission

        Submission.objects.filter(pk=submission.pk).update(
            birthday_month=2, birthday_day=29, answers={"size": "m"}
        )
        # A form without SMS consent records none: the columns stay empty, not "refused".
        Consent.objects.filter(submission=submission, channel="sms").delete()
    login(alice_client, alice_tenant, alice)
    row = _csv(alice_client.get("/signups/export.csv"))[0]
    assert row["birthday"] == "02-29"
    assert row["answers"] == '{"size": "m"}'
    assert row["sms_consent"] == ""


def test_cells_are_defused() -> None:
    assert csv_cell("+33612345678") == "+33612345678"
    assert csv_cell("-12") == "-12"
    assert csv_cell("+SUM(A1)") == "'+SUM(A1)"
    assert csv_cell("@foo") == "'@foo"
    assert csv_cell("plain") == "plain"


def test_recent_received_dates_filter(
    alice_client: Client,
    alice_tenant: Tenant,
    alice: User,
    stores: tuple[tuple[Location, Device], tuple[Location, Device]],
) -> None:
    (_, paris_till), _ = stores
    with tenant_context(alice_tenant):
        submission_create(paris_till, "today@example.com")
    # Days are the stores' own (both are in Paris), not UTC's.
    today = timezone.localdate(timezone=ZoneInfo("Europe/Paris"))
    login(alice_client, alice_tenant, alice)
    rows = _csv(alice_client.get("/signups/export.csv", {"date_from": str(today)}))
    assert [row["email"] for row in rows] == ["today@example.com"]
    tomorrow = today + timedelta(days=1)
    rows = _csv(alice_client.get("/signups/export.csv", {"date_from": str(tomorrow)}))
    assert rows == []
