"""A sign-up's page: its answers under the form's own labels, each consent with the exact wording
the shopper saw and its evidence, answers set aside, the CRM delivery log; linked from the list;
404 for anything not this retailer's."""

import hashlib
import html
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import Browser, expect

from customerinfo.core.accounts.models import User
from outbox.models import Delivery, DeliveryAttempt, DeliveryStatus
from signup import services
from signup.models import Submission
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
    kiosk_create,
    set_aside_create,
    staff_create,
    submission_create,
)

pytestmark = pytest.mark.django_db


def _text(content: bytes) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", content.decode()))


def _custom_answers_sign_up(kiosk: Kiosk) -> Submission:
    """A sign-up on the full form: a choice, several choices and a checkbox answered."""
    definition = kiosk.version.definition
    choices = {
        field["key"]: field
        for field in definition["fields"]
        if field["type"] in ("single_choice", "multiple_choice", "checkbox")
    }
    answers: dict[str, object] = {"email": "ann@example.com", "first_name": "Ann"}
    for key, field in choices.items():
        options = [option["value"] for option in field.get("options", [])]
        if field["type"] == "single_choice":
            answers[key] = options[0]
        elif field["type"] == "multiple_choice":
            answers[key] = options[:2]
        else:
            answers[key] = True
    submission, _ = services.submission_create(
        device=kiosk.device,
        submission_id=uuid.uuid4(),
        form_version_id=kiosk.version.pk,
        locale="fr",
        captured_at=datetime(2025, 3, 1, 22, 30, tzinfo=UTC),
        answers=answers,
        consents={"email": True},
    )
    return submission


def test_the_page_shows_answers_consent_evidence_and_times(
    owner_client: Client, kiosk: Kiosk
) -> None:
    submission = _custom_answers_sign_up(kiosk)
    consent = submission.consents.select_related("text").get(channel="email")
    response = owner_client.get(f"/signups/{submission.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    text = _text(response.content)
    # The exact wording, and a hash anyone can check against it.
    assert consent.text.text in html.unescape(page)
    assert hashlib.sha256(consent.text.text.encode()).hexdigest() == consent.text_hash
    assert consent.text_hash in page
    assert "Email marketing: given" in text
    # Where, on what, which version, in which language.
    assert "Store main" in text
    assert "Till 1" in text
    assert f"version {kiosk.version.number}" in text
    assert "Language fr" in text
    # Captured 22:30 UTC is 23:30 in Paris; UTC stays beside it.
    assert "2025-03-01 23:30:00 CET" in text
    assert "2025-03-01 22:30:00 UTC" in text
    # Custom questions under their labels, choices by their labels.
    for field in kiosk.version.definition["fields"]:
        if field["type"] == "single_choice":
            assert field["options"][0]["label"]["en"] in text
            assert field["label"]["en"] in text
    assert "Ann" in text
    assert "Not sent to any CRM" in text


def test_the_delivery_log_shows_each_crm_with_attempts_and_last_error(
    owner_client: Client, kiosk: Kiosk
) -> None:
    destination = webhook_destination(url="https://crm.example.com/hook", name="Loyalty CRM")
    submission = submission_create(kiosk.device, "zoe@example.com")
    delivery = Delivery.objects.get(submission_id=submission.pk)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.DEAD, attempts=2, last_error="HTTP 422: email refused"
    )
    for number in (1, 2):
        DeliveryAttempt.objects.create(
            delivery=delivery,
            number=number,
            started_at=timezone.now() - timedelta(minutes=10 - number),
            outcome="permanent" if number == 2 else "retry",
            status_code=500 if number == 1 else 422,
            error="server error" if number == 1 else "email refused",
        )
    text = _text(owner_client.get(f"/signups/{submission.pk}/").content)
    assert f"{destination.name}: Dead" in text
    assert "2 attempts" in text
    assert "last error: HTTP 422: email refused" in text
    assert "email refused" in text
    assert " 500 " in text


def test_answers_set_aside_are_shown_with_a_way_to_fix_them(
    owner_client: Client, kiosk: Kiosk
) -> None:
    submission = set_aside_create(kiosk.device, "kept@example.com")
    page = owner_client.get(f"/signups/{submission.pk}/").content.decode()
    assert "Answers set aside" in page
    assert "12345" in page
    assert f'href="/signups/attention/signups/{submission.pk}/"' in page


def test_staff_see_the_page_without_the_managers_link(
    alice_client: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    submission = set_aside_create(kiosk.device, "kept@example.com")
    login(alice_client, alice_tenant, staff_create())
    page = alice_client.get(f"/signups/{submission.pk}/").content.decode()
    assert "Answers set aside" in page
    assert "/signups/attention/signups/" not in page


def test_every_row_of_the_list_links_to_its_page(owner_client: Client, kiosk: Kiosk) -> None:
    submission = submission_create(kiosk.device, "row@example.com")
    page = owner_client.get("/signups/").content.decode()
    assert f'<a href="/signups/{submission.pk}/">row@example.com</a>' in page
    assert f'href="/crm/signups/{submission.pk}/"' in page


def test_unknown_and_malformed_ids_are_404(owner_client: Client, kiosk: Kiosk) -> None:
    assert owner_client.get(f"/signups/{uuid.uuid4()}/").status_code == 404
    assert owner_client.get("/signups/not-a-uuid/").status_code == 404
    assert owner_client.get("/signups/%00%27/").status_code == 404


def test_charlie_cannot_open_alices_sign_up(
    charlie_client: Client,
    charlie_tenant: Tenant,
    charlie: User,
    alice_tenant: Tenant,
) -> None:
    with tenant_context(alice_tenant):
        kiosk = kiosk_create()
        submission = submission_create(kiosk.device, "secret@example.com")
    login(charlie_client, charlie_tenant, charlie)
    response = charlie_client.get(f"/signups/{submission.pk}/")
    assert response.status_code == 404
    assert b"secret@example.com" not in response.content
    listed = charlie_client.get("/signups/").content
    assert b"secret@example.com" not in listed
    assert str(submission.pk).encode() not in listed


# --- in Chromium -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    with public_kiosk_site(django_db_blocker, tmp_path_factory.mktemp("detail")) as made:
        yield made


def test_the_sign_up_page_in_chromium_at_laptop_and_phone_size(
    browser: Browser, site: Site
) -> None:
    def seed() -> None:
        with tenant_context(site.tenant.tenant):
            device, _ = services.device_pair(code=site.tenant.pairing_code())
            webhook_destination(url="https://crm.example.com/hook", name="Browser CRM")
            submission_create(device, "detail@example.com")

    off_loop(site.blocker, seed)
    with owner_signed_in(browser, site) as owner:
        page = open_page(owner, f"{site.url}/signups/")
        page.get_by_role("link", name="detail@example.com", exact=True).click()
        expect(page.get_by_role("heading", name="Sign-up of detail@example.com")).to_be_visible()
        expect(page.get_by_role("heading", name="Email marketing: given")).to_be_visible()
        expect(page.locator("blockquote.consent-wording").first).to_contain_text(
            "send me news and offers by email"
        )
        expect(page.get_by_role("heading", name="Browser CRM: Pending")).to_be_visible()
        assert inline_code(page.content()) == []
        for size in (LAPTOP, PHONE):
            page.set_viewport_size(size)
            assert_accessible(page)
            assert horizontal_overflow(page) == 0, size
