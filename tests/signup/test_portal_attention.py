"""Needs attention: answers set aside and rejected sign-ups, seen, fixed and released, discarded
and exported by the right people, and nothing of alice's ever shown to charlie."""

import csv
import io
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from customerinfo.core.accounts.models import User
from customerinfo.core.models import AuditEntry
from signup import selectors, services
from signup.attention_forms import shown
from signup.models import (
    Consent,
    Device,
    Form,
    RejectedSubmission,
    Resolution,
    Submission,
)
from signup.views.attention import CSV_HEADER
from tenants.models import Tenant
from tests.conftest import login
from tests.signup.factories import (
    Kiosk,
    device_create,
    form_create,
    kiosk_create,
    location_create,
    rejection_create,
    set_aside_create,
    staff_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def till(alice_tenant: Tenant) -> Device:
    with tenant_context(alice_tenant):
        form_create()
        location = location_create(code="rivoli", name="Rivoli store")
        device, _ = device_create(location, name="Till by the door")
    return device


def _fresh(submission: Submission, tenant: Tenant) -> Submission:
    with tenant_context(tenant):
        return Submission.objects.get(pk=submission.pk)


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))


def test_the_list_shows_both_kinds_to_everyone_on_the_team(
    alice_client: Client, alice_tenant: Tenant, alice: User, bob: User, till: Device
) -> None:
    with tenant_context(alice_tenant):
        set_aside_create(till, "ann@example.com")
        rejection_create(till, "bea@example")
        sam = staff_create()
    for person in (alice, bob, sam):
        login(alice_client, alice_tenant, person)
        page = alice_client.get("/signups/attention/").content.decode()
        assert "2 items need attention." in page
        assert "Rivoli store" in page
        assert "Till by the door" in page
        assert "ann@example.com" in page
        assert "not a valid phone number" in page
        assert "<code>invalid_phone</code>" in page
        assert "12345" in page
        assert "It has no usable email address." in page
        assert "<code>validation_failed</code>" in page
        assert "bea@example" in page
        # Newest first: the rejection was recorded after the set-aside sign-up.
        assert page.index("bea@example") < page.index("ann@example.com")
        # The navigation says how many wait, on every page.
        assert 'Needs attention <span class="badge warn">2<' in page


def test_values_are_shown_as_typed_and_escaped(
    manager_client: Client, alice_tenant: Tenant, till: Device
) -> None:
    typed = "<b>Ann</b>\u202e\x00"  # markup, a right-to-left override and a NUL
    with tenant_context(alice_tenant):
        submission = set_aside_create(till, "ann@example.com", answers={"first_name": typed})
    stored = submission.set_aside["first_name"]
    assert stored["code"] == "invalid_characters"
    for path in ("/signups/attention/", f"/signups/attention/signups/{submission.pk}/"):
        page = manager_client.get(path).content.decode()
        assert "<b>Ann</b>" not in page
        assert "&lt;b&gt;Ann&lt;/b&gt;⟨U+202E⟩\ufffd" in page
        assert "holds characters that cannot be kept" in page
    assert shown({"month": 2, "day": 30}) == '{"month": 2, "day": 30}'


def test_releasing_a_phone_number_stores_it_and_audits(
    manager_client: Client, alice_tenant: Tenant, bob: User, till: Device
) -> None:
    with tenant_context(alice_tenant):
        submission = set_aside_create(till, "ann@example.com")
    page = manager_client.get(f"/signups/attention/signups/{submission.pk}/").content.decode()
    assert 'type="tel"' in page
    assert 'value="12345"' in page  # prefilled with what the shopper typed
    response = manager_client.post(
        f"/signups/attention/signups/{submission.pk}/release/",
        {"key": "phone", "answer-" + _prefix("phone") + "-value": "06 12 34 56 78"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/signups/attention/"
    fresh = _fresh(submission, alice_tenant)
    assert fresh.phone == "+33612345678"
    assert fresh.set_aside == {}
    with tenant_context(alice_tenant):
        entry = AuditEntry.objects.get(action="submission.release_answer")
        assert entry.actor_id == bob.pk
        assert entry.object_id == str(submission.pk)
        assert entry.new == {"phone": "06 12 34 56 78"}
    listing = manager_client.get("/signups/attention/").content.decode()
    assert "Phone of ann@example.com released" in listing
    assert "Nothing needs attention" in listing


def _prefix(key: str) -> str:
    from signup.attention_forms import form_prefix

    return form_prefix(key).removeprefix("answer-")


def test_a_release_still_invalid_shows_the_field_error(
    manager_client: Client, alice_tenant: Tenant, till: Device
) -> None:
    with tenant_context(alice_tenant):
        submission = set_aside_create(till, "ann@example.com")
    name = "answer-" + _prefix("phone") + "-value"
    response = manager_client.post(
        f"/signups/attention/signups/{submission.pk}/release/", {"key": "phone", name: "123"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter a valid phone number." in page
    assert 'aria-invalid="true"' in page
    assert 'value="123"' in page  # what the manager typed stays in the box
    assert _fresh(submission, alice_tenant).set_aside["phone"]["value"] == "12345"
    empty = manager_client.post(
        f"/signups/attention/signups/{submission.pk}/release/", {"key": "phone", name: " "}
    )
    assert empty.status_code == 400
    assert "Give the corrected answer, or discard it." in empty.content.decode()


@pytest.fixture
def full_kiosk(alice_tenant: Tenant) -> Iterator[Kiosk]:
    """A store whose form has every field type (tests.signup.factories.full_definition)."""
    with tenant_context(alice_tenant):
        yield kiosk_create(code="lyon")


def _stored(tenant: Tenant, kiosk: Kiosk, answers: dict[str, Any], **consents: bool) -> Submission:
    with tenant_context(tenant):
        submission, _ = services.submission_create(
            device=kiosk.device,
            submission_id=uuid.uuid4(),
            form_version_id=kiosk.version.pk,
            locale="en",
            captured_at=timezone.now(),
            answers={"email": "cat@example.com", **answers},
            consents={"email": True, **consents},
        )
        return submission


def test_each_field_gets_its_own_control(
    manager_client: Client, alice_tenant: Tenant, full_kiosk: Kiosk
) -> None:
    submission = _stored(
        alice_tenant,
        full_kiosk,
        {"birthday": {"month": 2, "day": 30}, "drink": "beer", "drinks": ["tea", 7], "vip": "y"},
    )
    assert set(submission.set_aside) == {"birthday", "drink", "drinks", "vip"}
    url = f"/signups/attention/signups/{submission.pk}/"
    page = manager_client.get(url).content.decode()
    assert 'value="02-30"' in page  # the birthday as MM-DD
    assert page.count('type="radio"') == 2  # tea or coffee, for the single choice
    assert page.count('type="checkbox"') == 3  # two for the multiple choice, one for "vip"
    assert "<legend>" in page  # choices are grouped under their question

    def release(key: str, value: str | list[str]) -> Any:
        return manager_client.post(
            f"{url}release/", {"key": key, f"answer-{_prefix(key)}-value": value}
        )

    bad = release("birthday", "02/31")
    assert bad.status_code == 400
    assert "Enter a real month and day." in bad.content.decode()
    assert "Type the month and day as MM-DD" in release("birthday", "Feb 2").content.decode()
    assert release("birthday", "02-29").status_code == 302
    assert release("drink", "coffee").status_code == 302
    assert release("drinks", ["tea", "coffee"]).status_code == 302
    assert release("vip", "on").status_code == 302
    fresh = _fresh(submission, alice_tenant)
    assert (fresh.birthday_month, fresh.birthday_day) == (2, 29)
    assert fresh.answers == {"drink": "coffee", "drinks": ["tea", "coffee"], "vip": True}
    assert fresh.set_aside == {}


def test_the_sms_tick_is_released_after_the_phone(
    manager_client: Client, alice_tenant: Tenant, till: Device
) -> None:
    # The shopper ticked SMS with a number that is not one: both are kept apart.
    with tenant_context(alice_tenant):
        version = Form.objects.get(is_default=True).current_version
        assert version is not None
        submission = services.submission_create(
            device=till,
            submission_id=uuid.uuid4(),
            form_version_id=version.pk,
            locale="en",
            captured_at=timezone.now(),
            answers={"email": "sms@example.com", "phone": "12345"},
            consents={"email": True, "sms": True},
        )[0]
    assert set(submission.set_aside) == {"phone", "consents.sms"}
    url = f"/signups/attention/signups/{submission.pk}/"
    assert "Release the SMS consent" in manager_client.get(url).content.decode()
    early = manager_client.post(f"{url}release/", {"key": "consents.sms"})
    assert early.status_code == 400
    assert "Add a phone number." in early.content.decode()
    phone = {"key": "phone", f"answer-{_prefix('phone')}-value": "+33 6 12 34 56 78"}
    response = manager_client.post(f"{url}release/", phone)
    assert response["Location"] == url  # the SMS tick still waits
    assert manager_client.post(f"{url}release/", {"key": "consents.sms"}).status_code == 302
    with tenant_context(alice_tenant):
        assert Consent.objects.get(submission_id=submission.pk, channel="sms").granted
        assert Submission.objects.get(pk=submission.pk).set_aside == {}


def test_releasing_a_rejected_sign_up_stores_it(
    manager_client: Client, alice_tenant: Tenant, bob: User, till: Device
) -> None:
    with tenant_context(alice_tenant):
        rejection = rejection_create(till, "ann@example")
    url = f"/signups/attention/rejected/{rejection.pk}/"
    page = manager_client.get(url).content.decode()
    assert 'value="ann@example"' in page  # prefilled with what the shopper typed
    assert "first_name" in page
    assert "Enter a valid email address." not in page
    still_bad = manager_client.post(f"{url}release/", {"email": "ann@example"})
    assert still_bad.status_code == 400
    assert "Enter a valid email address." in still_bad.content.decode()
    response = manager_client.post(f"{url}release/", {"email": "Ann@Example.com"})
    assert response.status_code == 302
    with tenant_context(alice_tenant):
        submission = Submission.objects.get(pk=rejection.pk)
        assert (submission.email, submission.first_name) == ("ann@example.com", "Ann")
        assert submission.location_id == till.location_id
        resolved = RejectedSubmission.objects.get(pk=rejection.pk)
        assert resolved.resolution == Resolution.RELEASED
        assert resolved.resolved_by_id == bob.pk
        assert AuditEntry.objects.filter(action="rejection.release").exists()
    page = manager_client.get(url).content.decode()
    assert "Fixed and released by bob@alice.example" in page
    assert "Release the sign-up" not in page
    again = manager_client.post(f"{url}release/", {"email": "ann@example.com"})
    assert again.status_code == 400
    assert "already" in again.content.decode()


def test_discarding_asks_first(manager_client: Client, alice_tenant: Tenant, till: Device) -> None:
    with tenant_context(alice_tenant):
        submission = set_aside_create(till, "ann@example.com")
        rejection = rejection_create(till, "bea@example")
    answer_url = f"/signups/attention/signups/{submission.pk}/discard/"
    confirm = manager_client.get(answer_url, {"key": "phone"}).content.decode()
    assert "Discard the Phone of ann@example.com?" in confirm
    assert _fresh(submission, alice_tenant).set_aside  # asking discards nothing
    assert manager_client.post(answer_url, {"key": "phone"}).status_code == 302
    assert _fresh(submission, alice_tenant).set_aside == {}
    rejection_url = f"/signups/attention/rejected/{rejection.pk}/discard/"
    assert "Discard the rejected sign-up" in manager_client.get(rejection_url).content.decode()
    response = manager_client.post(rejection_url, {"reason": "A test by the staff"})
    assert response["Location"] == "/signups/attention/"
    with tenant_context(alice_tenant):
        assert RejectedSubmission.objects.get(pk=rejection.pk).resolution == Resolution.DISCARDED
        assert AuditEntry.objects.filter(action="submission.discard_answer").exists()
        entry = AuditEntry.objects.get(action="rejection.discard")
        assert entry.new == {"reason": "A test by the staff"}
    assert "Nothing needs attention" in manager_client.get("/signups/attention/").content.decode()
    # A second discard of the same answer is told, not an error page.
    repeat = manager_client.post(answer_url, {"key": "phone"}, follow=True)
    assert "already released or discarded" in repeat.content.decode()


def test_csv_export_holds_both_kinds_defused(
    manager_client: Client, alice_tenant: Tenant, till: Device
) -> None:
    with tenant_context(alice_tenant):
        set_aside_create(till, "ann@example.com", answers={"phone": "=1+2"})
        rejection = rejection_create(till, "@bea")
    response = manager_client.get("/signups/attention/export.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="needs-attention-')
    rows = _csv(response)
    assert list(rows[0]) == CSV_HEADER
    by_kind = {row["kind"]: row for row in rows}
    assert by_kind["set_aside"]["answer"] == "phone"
    assert by_kind["set_aside"]["value_as_typed"] == "'=1+2"  # no formula in a sheet
    assert by_kind["set_aside"]["code"] == "invalid_phone"
    assert by_kind["set_aside"]["store_code"] == "rivoli"
    assert by_kind["set_aside"]["tablet"] == "Till by the door"
    assert by_kind["rejected"]["id"] == str(rejection.pk)
    assert by_kind["rejected"]["value_as_typed"] == "'@bea"
    assert by_kind["rejected"]["reason"] == "not valid"
    assert '"first_name": "Ann"' in by_kind["rejected"]["payload"]
    with tenant_context(alice_tenant):
        assert AuditEntry.objects.filter(action="attention.export").exists()


def test_staff_may_look_but_not_release(
    alice_client: Client, alice_tenant: Tenant, till: Device
) -> None:
    with tenant_context(alice_tenant):
        submission = set_aside_create(till, "ann@example.com")
        rejection = rejection_create(till, "bea@example")
        sam = staff_create()
    login(alice_client, alice_tenant, sam)
    page = alice_client.get(f"/signups/attention/signups/{submission.pk}/").content.decode()
    assert "12345" in page
    assert "Release" not in page
    assert "Download CSV" not in alice_client.get("/signups/attention/").content.decode()
    page = alice_client.get(f"/signups/attention/rejected/{rejection.pk}/").content.decode()
    assert "bea@example" in page
    assert "Release the sign-up" not in page
    name = f"answer-{_prefix('phone')}-value"
    for path, data in [
        (f"/signups/attention/signups/{submission.pk}/release/", {"key": "phone", name: "0612"}),
        (f"/signups/attention/signups/{submission.pk}/discard/", {"key": "phone"}),
        (f"/signups/attention/rejected/{rejection.pk}/release/", {"email": "bea@example.com"}),
        (f"/signups/attention/rejected/{rejection.pk}/discard/", {}),
    ]:
        response = alice_client.post(path, data)
        assert response.status_code == 403, path
        assert "You cannot do this" in response.content.decode()
    assert alice_client.get("/signups/attention/export.csv").status_code == 403
    assert _fresh(submission, alice_tenant).set_aside
    with tenant_context(alice_tenant):
        assert RejectedSubmission.objects.get(pk=rejection.pk).resolution == ""


def test_the_count_is_one_query_and_the_sign_ups_list_links_here(
    manager_client: Client, alice_tenant: Tenant, till: Device
) -> None:
    with tenant_context(alice_tenant):
        submission = set_aside_create(till, "ann@example.com")
        rejection_create(till, "bea@example")
        Submission.objects.exists()  # the schema is set on the connection's first query
        with CaptureQueriesContext(connection) as queries:
            assert selectors.attention_count(scope=selectors.EVERY_STORE) == 2
        assert len(queries) == 1, [q["sql"] for q in queries]
    page = manager_client.get("/signups/").content.decode()
    assert f'href="/signups/attention/signups/{submission.pk}/"' in page
    assert "Answer set aside" in page


# --- charlie sees nothing of alice's -----------------------------------------------------------


@pytest.fixture
def alices_items(alice_tenant: Tenant, till: Device) -> tuple[Submission, RejectedSubmission]:
    with tenant_context(alice_tenant):
        submission = set_aside_create(till, "secret-of-alice@example.com")
        rejection = rejection_create(till, "rejected-of-alice@example")
    return submission, rejection


def _paths(items: tuple[Submission, RejectedSubmission]) -> list[tuple[str, str]]:
    submission, rejection = items
    signup, rejected = (
        f"/signups/attention/signups/{submission.pk}/",
        f"/signups/attention/rejected/{rejection.pk}/",
    )
    return [
        ("get", signup),
        ("post", f"{signup}release/"),
        ("get", f"{signup}discard/?key=phone"),
        ("post", f"{signup}discard/"),
        ("get", rejected),
        ("post", f"{rejected}release/"),
        ("get", f"{rejected}discard/"),
        ("post", f"{rejected}discard/"),
    ]


def test_charlie_on_his_own_host_finds_none_of_alices(
    charlie_client: Client,
    charlie_tenant: Tenant,
    charlie: User,
    alice_tenant: Tenant,
    alices_items: tuple[Submission, RejectedSubmission],
) -> None:
    login(charlie_client, charlie_tenant, charlie)
    page = charlie_client.get("/signups/attention/").content.decode()
    assert "Nothing needs attention" in page
    assert "of-alice" not in page
    assert "Needs attention</a>" in page  # no count: nothing of alice's counted
    body = _csv(charlie_client.get("/signups/attention/export.csv"))
    assert body == []
    for method, path in _paths(alices_items):
        data = {"key": "phone", "email": "x@example.com"}
        response = charlie_client.get(path) if method == "get" else charlie_client.post(path, data)
        assert response.status_code == 404, (method, path)
    submission, rejection = alices_items
    assert _fresh(submission, alice_tenant).set_aside
    with tenant_context(alice_tenant):
        assert RejectedSubmission.objects.get(pk=rejection.pk).resolution == ""


def test_charlie_on_alices_host_is_sent_to_sign_in(
    alice_client: Client,
    charlie_tenant: Tenant,
    charlie: User,
    alices_items: tuple[Submission, RejectedSubmission],
) -> None:
    login(alice_client, charlie_tenant, charlie)  # his session exists only in his schema
    for method, path in [("get", "/signups/attention/"), *_paths(alices_items)]:
        response = alice_client.get(path) if method == "get" else alice_client.post(path, {})
        assert response.status_code == 302, (method, path)
        assert response["Location"].startswith("/login/"), (method, path)
