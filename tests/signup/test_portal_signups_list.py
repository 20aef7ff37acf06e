"""The sign-up list at volume: keyset pages, the date jump, capped counts, filters, the two email
searches and their indexes, custom answers as columns, store-local times."""

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from signup import selectors, services
from signup.models import Consent, Device, Form, Location, Submission
from signup.selectors import ConsentFilter, Cursor, SearchPath, SignupFilters
from tenants.models import Tenant
from tests.signup.factories import (
    Kiosk,
    device_create,
    form_create,
    location_create,
    phone_definition,
    submission_create,
)

pytestmark = pytest.mark.django_db

NOON = datetime(2025, 1, 10, 12, tzinfo=UTC)


@pytest.fixture
def till(alice_tenant: Tenant) -> Device:
    """A tablet of alice's Paris store, on the published default form."""
    with tenant_context(alice_tenant):
        form_create()
        device, _ = device_create(location_create())
    return device


def _emails(page: str) -> list[str]:
    # Each address links to its sign-up's page.
    return re.findall(r'<td><a href="/signups/[0-9a-f-]{36}/">([\w.+-]+@example\.com)', page)


def _link(page: str, rel: str) -> str | None:
    found = re.search(rf'href="(\?[^"]*)" rel="{rel}"', page)
    return html.unescape(found.group(1)) if found else None


def _walk(client: Client, start: str, rel: str) -> list[list[str]]:
    """Every page from ``start``, following ``rel`` links until there is none."""
    pages: list[list[str]] = []
    link: str | None = start
    while link is not None:
        page = client.get(f"/signups/{link}").content.decode()
        pages.append(_emails(page))
        link = _link(page, rel)
        assert len(pages) < 20, "the links go round in circles"
    return pages


def test_keyset_pages_skip_and_repeat_nothing_when_received_at_ties(
    owner_client: Client, alice_tenant: Tenant, till: Device, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seven sign-ups share one received_at and pages are of three: every boundary falls in or
    next to the tie, and the id decides."""
    with tenant_context(alice_tenant):
        for number in range(12):
            moment = NOON if 3 <= number < 10 else NOON + timedelta(minutes=number)
            submission_create(till, f"s{number}@example.com", received_at=moment)
        expected = [
            s.email for s in Submission.objects.order_by("-received_at", "-id")
        ]  # the list's order
    monkeypatch.setattr("signup.views.signups.PAGE_SIZE", 3)
    pages = _walk(owner_client, "", "next")
    assert [len(page) for page in pages] == [3, 3, 3, 3]
    assert [email for page in pages for email in page] == expected
    # And back, from the oldest page, by the "Newer" links.
    oldest = owner_client.get("/signups/").content.decode()
    oldest_link = re.search(r'href="(\?[^"]*)">Oldest</a>', oldest)
    assert oldest_link is not None
    back = _walk(owner_client, html.unescape(oldest_link.group(1)), "prev")
    assert [email for page in reversed(back) for email in page] == expected


def test_pages_selector_both_ways_with_ties(in_alice: Tenant, till: Device) -> None:
    for number in range(5):
        submission_create(till, f"t{number}@example.com", received_at=NOON)
    everything = selectors.submissions_filtered(SignupFilters())
    ordered = list(everything)
    first = selectors.submissions_page(everything, size=2)
    assert first.rows == ordered[:2]
    assert first.newer is None
    assert first.first
    assert first.older is not None
    second = selectors.submissions_page(everything, size=2, older_than=first.older)
    assert second.rows == ordered[2:4]
    assert second.newer == Cursor.of(ordered[2])
    assert second.older == Cursor.of(ordered[3])
    last = selectors.submissions_page(everything, size=2, older_than=second.older)
    assert last.rows == ordered[4:]
    assert last.older is None
    back = selectors.submissions_page(everything, size=2, newer_than=second.newer)
    assert back.rows == ordered[:2]
    assert back.newer is None
    assert back.first


def test_cursor_tokens_round_trip_and_nonsense_means_the_first_page() -> None:
    cursor = Cursor(datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC), uuid.uuid4())
    assert Cursor.parse(cursor.token()) == cursor
    assert Cursor.parse("") is None
    assert Cursor.parse("12_nothex") is None
    assert Cursor.parse("9" * 40 + "_" + "0" * 32) is None


def test_date_jump_shows_that_day_in_the_stores_time_zone(
    owner_client: Client, alice_tenant: Tenant, till: Device
) -> None:
    with tenant_context(alice_tenant):
        # 23:30 UTC on the 10th is 00:30 on the 11th in Paris, the store's zone.
        submission_create(
            till, "late@example.com", received_at=datetime(2025, 1, 10, 23, 30, tzinfo=UTC)
        )
        submission_create(
            till, "eleventh@example.com", received_at=datetime(2025, 1, 11, 9, tzinfo=UTC)
        )
        submission_create(
            till, "twelfth@example.com", received_at=datetime(2025, 1, 12, 9, tzinfo=UTC)
        )
        submission_create(
            till, "ninth@example.com", received_at=datetime(2025, 1, 9, 9, tzinfo=UTC)
        )
    page = owner_client.get("/signups/", {"go": "2025-01-11"}).content.decode()
    assert _emails(page) == ["eleventh@example.com", "late@example.com", "ninth@example.com"]
    assert _link(page, "prev") is not None  # the 12th is newer
    assert "Dates in the filters are days in Europe/Paris" in page
    assert "2025-01-11 00:30 CET" in page  # shown in the store's time
    newer = owner_client.get(f"/signups/{_link(page, 'prev')}").content.decode()
    assert _emails(newer) == ["twelfth@example.com"]
    before_all = owner_client.get("/signups/", {"go": "2024-01-01"}).content.decode()
    assert _emails(before_all) == []
    assert _link(before_all, "prev") is not None


def test_counts_stop_at_the_cap(
    owner_client: Client, alice_tenant: Tenant, till: Device, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tenant_context(alice_tenant):
        for number in range(4):
            submission_create(till, f"c{number}@example.com")
        assert selectors.count_capped(Submission.objects.all(), cap=3) == (3, True)
        assert selectors.count_capped(Submission.objects.all(), cap=4) == (4, False)
    monkeypatch.setattr("signup.selectors.signups.COUNT_CAP", 3)
    monkeypatch.setattr("signup.selectors.COUNT_CAP", 3)
    page = owner_client.get("/signups/").content.decode()
    assert "More than 3 sign-ups" in page


def test_consent_and_form_filters(owner_client: Client, alice_tenant: Tenant, till: Device) -> None:
    with tenant_context(alice_tenant):
        submission_create(till, "sms@example.com", sms=True)
        submission_create(till, "nosms@example.com", sms=False)
        refused = submission_create(till, "none@example.com")
        Consent.objects.filter(submission=refused).update(granted=False)
        other = services.form_create(
            actor=None, name="Event form", is_default=False, definition=phone_definition()
        )
        version = services.form_publish(actor=None, form=other)
        event = submission_create(till, "event@example.com")
        Submission.objects.filter(pk=event.pk).update(form_version=version)
        main = Form.objects.get(is_default=True)

    def listed(**query: Any) -> list[str]:
        return sorted(_emails(owner_client.get("/signups/", query).content.decode()))

    assert listed(consent="sms") == ["sms@example.com"]
    assert listed(consent="email") == ["event@example.com", "nosms@example.com", "sms@example.com"]
    assert listed(consent="none") == ["none@example.com"]
    assert listed(form=other.pk) == ["event@example.com"]
    assert listed(form=main.pk, consent="email") == ["nosms@example.com", "sms@example.com"]


@pytest.fixture
def shoppers(in_alice: Tenant, till: Device) -> None:
    for email in ("ann@example.com", "joann@example.com", "bea@example.com"):
        submission_create(till, email)


@pytest.mark.usefixtures("shoppers")
def test_a_whole_address_is_an_exact_search() -> None:
    assert selectors.email_search_path(" Ann@Example.com ") == SearchPath.EXACT
    found = selectors.submissions_filtered(SignupFilters(email=" Ann@Example.com "))
    assert [s.email for s in found] == ["ann@example.com"]


@pytest.mark.usefixtures("shoppers")
def test_part_of_an_address_uses_the_trigram_index_where_it_exists() -> None:
    assert selectors.trigram_index_ready()  # pg_trgm is there in the test database
    assert selectors.email_search_path("ANN@") == SearchPath.TRIGRAM
    assert selectors.email_search_path("an") == SearchPath.SCAN  # too short for a trigram
    found = selectors.submissions_filtered(SignupFilters(email="ANN@"))
    assert sorted(s.email for s in found) == ["ann@example.com", "joann@example.com"]


@pytest.mark.usefixtures("shoppers")
def test_without_the_trigram_index_the_search_scans_and_finds_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("signup.selectors.signups.trigram_index_ready", lambda: False)
    assert selectors.email_search_path("ANN@") == SearchPath.SCAN
    found = selectors.submissions_filtered(SignupFilters(email="ANN@"))
    assert sorted(s.email for s in found) == ["ann@example.com", "joann@example.com"]
    # Wildcards typed by the manager are searched for, not obeyed.
    assert not selectors.submissions_filtered(SignupFilters(email="a%n")).exists()


def _plan(filters: SignupFilters, older_than: Cursor | None = None) -> str:
    """The plan left when only bitmap scans are allowed: those need an index condition, so the
    plan names the index the conditions can use (on a few rows, any plan is cheap and the
    planner's choice among them says nothing)."""
    queryset = selectors.submissions_filtered(filters)
    if older_than is not None:
        queryset = queryset.filter(selectors.signups._older_than(older_than))
    with connection.cursor() as cursor:
        for kind in ("seqscan", "indexscan", "indexonlyscan"):
            cursor.execute(f"SET LOCAL enable_{kind} = off")
    return str(queryset[:51].explain())


@pytest.mark.usefixtures("shoppers")
def test_the_searches_and_deep_pages_can_be_answered_from_indexes() -> None:
    assert "submission_email_idx" in _plan(SignupFilters(email="ann@example.com"))
    assert "submission_email_trgm_idx" in _plan(SignupFilters(email="joan"))
    deep = _plan(SignupFilters(), older_than=Cursor(NOON, uuid.uuid4()))
    assert re.search(r"Index Cond: \(received_at <= ", deep), deep


def test_custom_answers_are_columns(
    owner_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    services.submission_create(
        device=kiosk.device,
        submission_id=uuid.uuid4(),
        form_version_id=kiosk.version.pk,
        locale="en",
        captured_at=NOON,
        answers={"email": "cols@example.com", "drinks": ["tea", "coffee"], "vip": True},
        consents={"email": True},
    )
    columns = selectors.answer_columns(form=None)
    assert [column.key for column in columns] == ["drink", "drinks", "vip", "note"]
    page = owner_client.get("/signups/").content.decode()
    row = page[page.index("cols@example.com") :]
    row = row[: row.index("</tr>")]
    assert "<td>tea, coffee</td>" in row
    assert "<td>Yes</td>" in row


def test_filters_survive_the_trip_to_a_worker(in_alice: Tenant) -> None:
    paris = location_create()
    filters = SignupFilters(
        email="ann",
        date_from=NOON.date(),
        location=paris,
        consent=ConsentFilter.SMS,
        zone=selectors.filters_zone(location=paris),
    )
    assert SignupFilters.from_json(filters.as_json()) == filters
    assert filters.described()["location"] == "Paris Rivoli"
    gone = {**filters.as_json(), "location": str(paris.pk + 1000)}
    with pytest.raises(Location.DoesNotExist):
        SignupFilters.from_json(gone)
