"""The dashboard (the portal's home): the daily counts behind it stay equal to the sign-ups
themselves through every kind of write (the kiosk's statement, erasure, the retention purge, a
consent granted later, a store moving time zone), and its page shows each part, to this
retailer only."""

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import Browser, expect

from customerinfo.core.accounts.models import User
from outbox.models import Delivery, DeliveryStatus
from signup import services
from signup.models import Consent, Device, Location, SignupDay, Submission
from tenants.models import Tenant
from tests.conftest import login
from tests.crm_sync.factories import webhook_destination
from tests.signup.browser import Site, assert_accessible, horizontal_overflow, off_loop
from tests.signup.browser_portal import (
    LAPTOP,
    PHONE,
    inline_code,
    open_page,
    owner_signed_in,
    public_kiosk_site,
)
from tests.signup.factories import (
    Kiosk,
    device_create,
    form_create,
    location_create,
    submission_create,
)

pytestmark = pytest.mark.django_db


Key = tuple[int, date] | tuple[int, date, int]


def slot_of(submission_id: uuid.UUID) -> int:
    """The day's row that counts a sign-up (migration 0013): its id's last byte, modulo 16."""
    return submission_id.bytes[15] % 16


def counted(*, slots: bool = False) -> dict[Key, tuple[int, int, int]]:
    """The SignupDay figures per store and day (summed over the day's slots, or per slot),
    zero figures left out."""
    days: dict[Key, tuple[int, int, int]] = {}
    for row in SignupDay.objects.all():
        key: Key = (row.location_id, row.day, row.slot) if slots else (row.location_id, row.day)
        signups, email, sms = days.get(key, (0, 0, 0))
        days[key] = (signups + row.signups, email + row.email_opt_ins, sms + row.sms_opt_ins)
    return {key: figures for key, figures in days.items() if figures != (0, 0, 0)}


def recounted(*, slots: bool = False) -> dict[Key, tuple[int, int, int]]:
    """The same figures, counted here from the sign-ups and consents themselves."""
    zones = {location.pk: ZoneInfo(location.time_zone) for location in Location.objects.all()}
    signups: Counter[Key] = Counter()
    email: Counter[Key] = Counter()
    sms: Counter[Key] = Counter()
    for submission in Submission.objects.prefetch_related("consents"):
        day = submission.captured_at.astimezone(zones[submission.location_id]).date()
        key: Key = (
            (submission.location_id, day, slot_of(submission.pk))
            if slots
            else (submission.location_id, day)
        )
        signups[key] += 1
        for consent in submission.consents.all():
            if consent.granted:
                (email if consent.channel == "email" else sms)[key] += 1
    return {key: (signups[key], email[key], sms[key]) for key in signups}


@pytest.fixture
def till(alice_tenant: Tenant) -> Device:
    with tenant_context(alice_tenant):
        form_create()
        device, _ = device_create(location_create())
    return device


def _at(submission: Submission, moment: datetime) -> None:
    """Moves a sign-up (and its consents) to another capture time. The triggers count inserts
    and deletes, not such an edit (no writer makes one): only a recount sees it."""
    Submission.objects.filter(pk=submission.pk).update(captured_at=moment)
    Consent.objects.filter(submission=submission).update(captured_at=moment)


def test_kiosk_sign_ups_are_counted_per_store_day_with_their_opt_ins(
    alice_tenant: Tenant, till: Device
) -> None:
    with tenant_context(alice_tenant):
        submission_create(till, "a@example.com", sms=True)
        submission_create(till, "b@example.com", sms=False)
        submission_create(till, "c@example.com")
        today = timezone.now().astimezone(ZoneInfo("Europe/Paris")).date()
        assert counted() == {(till.location_id, today): (3, 3, 1)}
        assert counted() == recounted()


def test_a_days_sign_ups_are_spread_over_rows_by_their_ids(
    alice_tenant: Tenant, till: Device
) -> None:
    """So that sign-ups at one store do not wait for one another's row lock: each counts in
    the row of its id's slot, and its opt-ins in the same row."""
    with tenant_context(alice_tenant):
        for number in range(24):
            submission_create(till, f"s{number}@example.com", sms=number % 2 == 0)
        rows = SignupDay.objects.filter(location_id=till.location_id)
        assert len({row.slot for row in rows}) > 1
        assert {row.slot for row in rows} <= set(range(16))
        assert counted(slots=True) == recounted(slots=True)
        assert sum(figures[0] for figures in counted().values()) == 24


def test_a_sign_up_is_counted_once_whichever_writer_stores_it(
    alice_tenant: Tenant, till: Device
) -> None:
    """The kiosk's statement counts its own sign-up and has the insert triggers pass over that
    id (migration 0014); a sign-up another writer inserts later in the same transaction is
    still counted by the triggers, and a repeated id by no one."""
    with tenant_context(alice_tenant), transaction.atomic():
        first = submission_create(till, "first@example.com", sms=True)
        # Another writer, as the recovery of a refused sign-up is: the ORM, same transaction.
        other = Submission.objects.create(
            form_version_id=first.form_version_id,
            location_id=first.location_id,
            device_id=first.device_id,
            email="other@example.com",
            locale="en",
            captured_at=first.captured_at,
        )
        evidence = Consent.objects.get(submission=first, channel="email")
        evidence.pk, evidence.submission = None, other
        evidence.save()
        _, created = services.submission_create(
            device=till,
            submission_id=first.pk,
            form_version_id=first.form_version_id,
            locale="en",
            captured_at=first.captured_at,
            answers={"email": "first@example.com"},
            consents={"email": True},
        )
        assert not created
        assert counted(slots=True) == recounted(slots=True)
        assert sum(figures[0] for figures in counted().values()) == 2
        assert sum(figures[1] for figures in counted().values()) == 2


def test_erasure_purge_and_a_consent_given_later_keep_the_counts_right(
    alice_tenant: Tenant, till: Device
) -> None:
    with tenant_context(alice_tenant):
        kept = submission_create(till, "kept@example.com", sms=False)
        erased = submission_create(till, "gone@example.com", sms=True)
        submission_create(till, "gone@example.com", sms=False)
        old = [submission_create(till, f"old{n}@example.com", sms=True) for n in range(3)]
        for submission in old:  # received long ago: the retention purge's
            Submission.objects.filter(pk=submission.pk).update(
                received_at=timezone.now() - timedelta(days=400)
            )
        assert counted(slots=True) == recounted(slots=True)

        assert services.shopper_erase(actor=None, email=erased.email) == 2
        assert counted(slots=True) == recounted(slots=True)

        # A manager releases an SMS consent kept apart: the consent row turns granted.
        Consent.objects.filter(submission=kept, channel="sms").update(granted=True)
        assert counted(slots=True) == recounted(slots=True)

        services.retention_update(actor=None, days=200)
        assert services.retention_purge() == 3
        assert counted(slots=True) == recounted(slots=True)
        assert sum(figures[0] for figures in counted().values()) == 1


def test_a_store_moving_time_zone_has_its_days_counted_again(
    alice_tenant: Tenant, till: Device
) -> None:
    with tenant_context(alice_tenant):
        late = submission_create(till, "late@example.com")
        # 23:30 in Paris on 10 January is already the 11th in Tokyo.
        _at(late, datetime(2025, 1, 10, 22, 30, tzinfo=UTC))
        Location.objects.filter(pk=till.location_id).update(time_zone="Europe/Paris")
        location = Location.objects.get(pk=till.location_id)
        services.location_update(
            actor=None,
            location=location,
            name=location.name,
            country="FR",
            time_zone="Asia/Tokyo",
            form=None,
        )
        assert counted()[(till.location_id, date(2025, 1, 11))] == (1, 1, 0)
        assert counted(slots=True) == recounted(slots=True)


def test_a_zone_postgresql_does_not_know_counts_in_utc_and_loses_no_sign_up(
    alice_tenant: Tenant, till: Device
) -> None:
    with tenant_context(alice_tenant):
        Location.objects.filter(pk=till.location_id).update(time_zone="Mars/Olympus_Mons")
        submission = submission_create(till, "mars@example.com")
        assert Submission.objects.filter(pk=submission.pk).exists()
        day = submission.captured_at.astimezone(UTC).date()
        assert counted() == {(till.location_id, day): (1, 1, 0)}


# --- the page ----------------------------------------------------------------------------------


def _text(response: object) -> str:
    content = getattr(response, "content", b"").decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", content))


def test_the_dashboard_shows_days_stores_tablets_and_crm_health(
    owner_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    destination = webhook_destination(url="https://crm.example.com/hook", name="Head office CRM")
    for number in range(3):
        submission_create(kiosk.device, f"s{number}@example.com", sms=number == 0)
    Delivery.objects.filter(destination_id=destination.pk).update(status=DeliveryStatus.DEAD)
    Device.objects.filter(pk=kiosk.device.pk).update(
        last_seen_at=timezone.now() - timedelta(hours=2), queue_depth=4, held_count=1
    )
    Device.objects.filter(pk=device_create(kiosk.location, "Till 2")[0].pk).update(
        last_seen_at=timezone.now()
    )

    response = owner_client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    text = _text(response)
    # The chart: 30 bars by default, with a title and a description for screen readers.
    assert len(re.findall(r'<rect class="bar"', page)) == 30
    assert '<title id="chart-title">Sign-ups per day, last 30 days</title>' in page
    assert "3 sign-ups in the last 30 days" in text
    # The store: 3 today, 3 in 7 and 30 days, email 100 %, SMS 1 in 3.
    store = re.search(r"Store main</a>.*?</tr>", page, re.S)
    assert store is not None
    assert re.findall(r'<td class="number">([^<]*)</td>', store.group(0)) == [
        "3",
        "3",
        "3",
        "100%",
        "33%",
    ]
    # The tablet that needs someone, and not the one that is fine.
    assert "Till 1 , Store main: offline for 2 h; 4 unsent; 1 held" in text
    assert "Till 2 , Store main" not in text
    # The CRM, with its failed deliveries.
    assert "Head office CRM" in text
    assert "Some failed" in text
    assert "Team members 1" in text

    ninety = owner_client.get("/", {"days": "90"}).content.decode()
    assert len(re.findall(r'<rect class="bar"', ninety)) == 90
    assert 'href="?days=90" aria-current="page"' in ninety
    # Anything else is the 30 days, never an error.
    assert owner_client.get("/", {"days": "7'; DROP"}).status_code == 200


def test_the_dashboard_reads_the_counts_not_the_sign_ups(
    owner_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    """A figure the sign-ups table does not hold shows: the page reads SignupDay."""
    today = timezone.now().astimezone(ZoneInfo("Europe/Paris")).date()
    SignupDay.objects.create(
        location=kiosk.location, day=today, signups=123456, email_opt_ins=61728
    )
    text = _text(owner_client.get("/"))
    assert "123,456 sign-ups in the last 30 days" in text
    assert "50%" in text


def test_charlie_sees_nothing_of_alices_dashboard(
    charlie_client: Client,
    charlie_tenant: Tenant,
    charlie: User,
    kiosk: Kiosk,
) -> None:
    webhook_destination(url="https://crm.example.com/hook", name="Alice CRM")
    submission_create(kiosk.device, "alice-shopper@example.com")
    Device.objects.filter(pk=kiosk.device.pk).update(queue_depth=9)
    login(charlie_client, charlie_tenant, charlie)
    with tenant_context(charlie_tenant):
        assert not SignupDay.objects.exists()
    response = charlie_client.get("/")
    assert response.status_code == 200
    text = _text(response)
    for secret in ("Store main", "Till 1", "Alice CRM", "alice-shopper"):
        assert secret not in text
    assert "0 sign-ups in the last 30 days" in text
    assert "No CRM is connected" in text


# --- in Chromium -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    with public_kiosk_site(django_db_blocker, tmp_path_factory.mktemp("dashboard")) as made:
        yield made


def _seed(site: Site) -> None:
    """Two sign-ups on a tablet of the e2e shop that is offline with sign-ups unsent, and a CRM."""

    def seed() -> None:
        with tenant_context(site.tenant.tenant):
            device, _ = services.device_pair(code=site.tenant.pairing_code())
            Device.objects.filter(pk=device.pk).update(queue_depth=2)
            for number in range(2):
                submission_create(device, f"chart{number}@example.com")
            webhook_destination(url="https://crm.example.com/hook", name="Browser CRM")

    off_loop(site.blocker, seed)


def test_the_dashboard_in_chromium_at_laptop_and_phone_size(browser: Browser, site: Site) -> None:
    _seed(site)
    with owner_signed_in(browser, site) as owner:
        page = open_page(owner, f"{site.url}/")
        expect(page.get_by_role("heading", name="Sign-ups per day")).to_be_visible()
        chart = page.get_by_role("img", name="Sign-ups per day, last 30 days")
        expect(chart).to_be_visible()
        expect(page.locator("svg rect.bar")).to_have_count(30)
        expect(page.get_by_role("heading", name="Tablets needing attention")).to_be_visible()
        expect(page.get_by_text("2 unsent")).to_be_visible()
        expect(page.get_by_role("rowheader", name="Browser CRM")).to_be_visible()
        assert inline_code(page.content()) == []
        # The span switch is a plain link: no script needed.
        page.get_by_role("link", name="90 days").click()
        expect(page).to_have_url(re.compile(r"\?days=90$"))
        expect(page.locator("svg rect.bar")).to_have_count(90)
        # The table the chart stands for.
        page.get_by_text("Sign-ups per day as a table").click()
        expect(page.get_by_role("region", name="Table of sign-ups per day")).to_be_visible()
        for size in (LAPTOP, PHONE):
            page.set_viewport_size(size)
            assert_accessible(page)
            assert horizontal_overflow(page) == 0, size


@pytest.mark.parametrize("highest", [0, 3, 5, 7, 12, 20, 37, 120, 480, 999, 4321])
def test_every_gridline_sits_at_the_value_it_is_labelled(highest: int) -> None:
    """A line drawn at 2.5 and labelled "2" misreads every bar against it."""
    from signup.selectors.dashboard import DayCount
    from signup.views import dashboard

    day = date(2026, 11, 2)
    chart = dashboard.chart([DayCount(day=day, signups=highest, email_opt_ins=0, sms_opt_ins=0)])
    levels: Any = chart["levels"]
    assert len(levels) >= 3
    bottom, top = dashboard.PLOT_BOTTOM, dashboard.PLOT_TOP
    scale_top = int(levels[-1].label.replace(",", ""))
    assert scale_top >= highest
    for tick in levels:
        value = int(tick.label.replace(",", ""))
        expected = bottom - (bottom - top) * value / scale_top
        assert float(tick.position) == pytest.approx(expected, abs=0.01)
    bars: Any = chart["bars"]
    (bar,) = bars
    assert float(bar.height) == pytest.approx((bottom - top) * highest / scale_top, abs=0.01)
