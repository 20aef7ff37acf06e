"""Nothing a shopper submits is ever lost: each way a thanked sign-up could go astray, driven in
a real Chromium against a live server (docs/kiosk-api.md, "The promise").

After each test the database holds exactly the sign-ups it should, once. See
tests/signup/browser.py for the plumbing; tests/signup/test_kiosk_browser.py for the kiosk's
everyday behaviour.
"""

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import tenant_context
from playwright.sync_api import (
    BrowserContext,
    Page,
    Request,
    Route,
    expect,
)

from crm_sync import services as crm_services
from crm_sync.providers.webhook import secret_generate
from tests.crm_sync.factories import webhook_destination
from tests.crm_sync.fakes.webhook import FakeWebhookReceiver
from tests.signup.browser import (
    PHONE,
    TABLET,
    Site,
    assert_accessible,
    enqueue,
    next_shopper,
    off_loop,
    pair,
    queue_item,
    sign_up,
    stored,
    wait_until,
)

pytestmark = [pytest.mark.django_db]
expect.set_options(timeout=10_000)

PHONE_MODULE = "**/kiosk/vendor/libphonenumber-js.max.js"
CHECK = "**/api/kiosk/submissions/check"
SUBMISSIONS = "**/api/kiosk/submissions"
REJECTIONS = "**/api/kiosk/rejections"


#: Its tests route the kiosk's requests through Playwright, which a service worker would bypass.
SERVICE_WORKERS = "block"


class Crm:
    """A webhook CRM on loopback that the module's sign-ups are delivered to.

    The live server writes each sign-up's delivery with it, as in production; the outbox is
    drained here, in the test's process, since no Celery worker runs beside the live server.
    """

    def __init__(self, site: Site) -> None:
        self.site = site
        secret = secret_generate()
        self.receiver = FakeWebhookReceiver(secrets=[secret]).start()

        def create() -> int:
            with tenant_context(site.tenant.tenant):
                url = f"{self.receiver.url}/hook"
                return webhook_destination(url=url, secret=secret).pk

        self.destination_id = off_loop(site.blocker, create)

    def emails(self) -> list[str]:
        """Every contact the CRM holds (one per sign-up: it keeps one event per id)."""

        def drain() -> None:
            with tenant_context(self.site.tenant.tenant):
                crm_services.deliveries_send(destination_id=self.destination_id, ids=[])

        off_loop(self.site.blocker, drain)
        return [contact["email"] for contact in self.contacts()]

    def contacts(self) -> list[dict[str, Any]]:
        return [event["data"] for event in list(self.receiver.events.values())]


@pytest.fixture(scope="module")
def crm(site: Site) -> Iterator[Crm]:
    crm = Crm(site)
    yield crm
    crm.receiver.stop()


def count(site: Site, crm: Crm, email: str) -> int:
    """How many times ``email`` is stored; the CRM must hold exactly as many contacts."""
    stored_times = site.emails().count(email)
    assert crm.emails().count(email) == stored_times, (email, stored_times)
    return stored_times


def phone_error(page: Page) -> None:
    expect(page.locator("#f-phone-error")).to_have_text("Enter a valid phone number.")
    expect(page.get_by_label("Mobile phone")).to_have_attribute("aria-invalid", "true")


# --- phone numbers the server refuses --------------------------------------------------------


#: Per store: a number the server refuses there, and a real one with its E.164 form.
PHONES = {
    "soho": ("0612345678", "(415) 555-2671", "+14155552671"),  # US
    "rivoli": ("061234567", "06 12 34 56 78", "+33612345678"),  # FR
    "camden": ("07700 900123", "07911 123456", "+447911123456"),  # GB
}


@pytest.mark.parametrize("store", PHONES)
def test_a_phone_the_server_refuses_is_caught_or_set_aside(
    page: Page, site: Site, crm: Crm, store: str
) -> None:
    refused, valid, e164 = PHONES[store]
    pair(page, site, store)
    tag = f"{store}-{refused.replace(' ', '')}"

    # 1. The tablet's own rules (libphonenumber-js, the store's country) flag it.
    sign_up(page, f"local-{tag}@example.com", phone=refused, thanked=False)
    phone_error(page)
    if store == "soho":
        page.get_by_label("Mobile phone").fill("123456")
        page.get_by_role("button", name="Sign up").click()
        phone_error(page)
    assert stored(page, "queue") == []

    # 2. Without its phone rules (say they failed to load), the server's check flags it.
    page.route(PHONE_MODULE, lambda route: route.abort())
    page.reload()
    expect(page.get_by_label("Email address")).to_be_visible()
    with page.expect_response(CHECK) as checked:
        sign_up(page, f"checked-{tag}@example.com", phone=refused, thanked=False)
    assert checked.value.json()["fields"]["phone"][0]["code"] == "invalid_phone"
    phone_error(page)
    assert stored(page, "queue") == []

    # 3. And if the check cannot answer either, the sign-up is stored and the phone set aside.
    page.route(CHECK, lambda route: route.abort())
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Thank you! You're signed up.")).to_be_visible()
    row = site.wait_for_email(f"checked-{tag}@example.com", page=page)
    assert row["phone"] == ""
    assert row["set_aside"]["phone"]["code"] == "invalid_phone"
    assert row["set_aside"]["phone"]["value"] == refused
    next_shopper(page)

    # A real number of that country goes through as E.164.
    page.unroute(PHONE_MODULE)
    page.unroute(CHECK)
    sign_up(page, f"valid-{tag}@example.com", phone=valid)
    assert site.wait_for_email(f"valid-{tag}@example.com", page=page)["phone"] == e164

    assert count(site, crm, f"checked-{tag}@example.com") == 1
    # The answer set aside never reaches the CRM; the rest of the contact does.
    sent = [c for c in crm.contacts() if c["email"] == f"checked-{tag}@example.com"]
    assert sent[0]["phone"] == ""
    assert count(site, crm, f"valid-{tag}@example.com") == 1
    assert count(site, crm, f"local-{tag}@example.com") == 0
    wait_until(lambda: stored(page, "queue") == [], page=page)
    assert stored(page, "rejected") == []


def test_a_nul_byte_in_a_text_answer(page: Page, site: Site, crm: Crm) -> None:
    pair(page, site)
    page.get_by_label("Email address").fill("nul@example.com")
    page.get_by_label("First name").fill("An\x00n")
    page.get_by_role("button", name="Sign up").click()
    error = page.locator("#f-first_name-error")
    if page.get_by_label("First name").input_value() == "An\x00n":
        # The field kept the NUL: the tablet flags it with the server's code.
        expect(error).to_have_text("This contains characters we cannot keep. Please retype it.")
        assert_accessible(page)
        page.get_by_label("First name").fill("Ann")
        page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Thank you! You're signed up.")).to_be_visible()
    assert site.wait_for_email("nul@example.com", page=page)["first_name"] == "Ann"

    # One that got past the page anyway (an older release's queue): stored, the name set aside.
    item = queue_item(page, "nul-queued@example.com", first_name="Bo\x00b")
    enqueue(page, item)
    page.reload()
    row = site.wait_for_email("nul-queued@example.com", page=page)
    assert row["first_name"] == ""
    assert row["set_aside"]["first_name"]["code"] == "invalid_characters"
    assert count(site, crm, "nul@example.com") == count(site, crm, "nul-queued@example.com") == 1
    wait_until(lambda: stored(page, "queue") == [], page=page)


# --- the queue never waits behind one item ---------------------------------------------------


def test_a_server_error_on_one_sign_up_holds_back_no_other(
    page: Page, context: BrowserContext, site: Site, crm: Crm
) -> None:
    pair(page, site)
    context.set_offline(True)
    for name in ("first", "second", "third"):
        sign_up(page, f"hol-{name}@example.com")
        next_shopper(page)
    items = stored(page, "queue")
    failing = next(
        item["id"] for item in items if item["answers"]["email"] == "hol-first@example.com"
    )
    failed: list[str] = []

    def fail_one(route: Route, request: Request) -> None:
        body = json.loads(request.post_data or "{}")
        if request.method == "POST" and body.get("id") == failing:
            failed.append(failing)
            route.fulfill(
                status=500,
                content_type="application/json",
                body='{"error": {"code": "server_error", "message": "Boom."}}',
            )
        else:
            route.continue_()

    page.route(SUBMISSIONS, fail_one)
    context.set_offline(False)
    site.wait_for_email("hol-second@example.com", page=page)
    site.wait_for_email("hol-third@example.com", page=page)
    assert failed, "the first sign-up was never tried"
    assert count(site, crm, "hol-first@example.com") == 0
    # The server has the other two; the tablet drops them from its queue as the answers arrive.
    assert wait_until(lambda: len(stored(page, "queue")) == 1, page=page)
    [waiting] = stored(page, "queue")
    assert waiting["id"] == failing
    assert waiting["attempts"] >= 1
    assert waiting["next_attempt_at"] > 0
    expect(page.locator("#queue")).to_have_attribute("data-unsent", "1")

    page.unroute(SUBMISSIONS)  # the server is well again: the item's own backoff runs out
    site.wait_for_email("hol-first@example.com", timeout=40, page=page)
    for name in ("first", "second", "third"):
        assert count(site, crm, f"hol-{name}@example.com") == 1
    wait_until(lambda: stored(page, "queue") == [], page=page)
    assert stored(page, "rejected") == []


def test_a_refused_sign_up_is_handed_to_the_server_then_forgotten(
    page: Page, context: BrowserContext, site: Site, crm: Crm
) -> None:
    pair(page, site)
    # An unknown form version: the server refuses it whole and keeps a rejected record.
    item = queue_item(page, "refused-whole@example.com")
    item["form_version"] = 987654
    later = queue_item(page, "after-refused@example.com")
    page.route(REJECTIONS, lambda route: route.fulfill(status=503, body="down"))
    enqueue(page, item)
    enqueue(page, later)
    with page.expect_response("**/api/kiosk/heartbeat", timeout=20_000):
        page.reload()
    site.wait_for_email("after-refused@example.com", page=page)
    # The tablet holds it until the server takes it, and says so in its heartbeat.
    wait_until(lambda: len(stored(page, "rejected")) == 1, page=page)
    [held] = stored(page, "rejected")
    assert held["status"] == 400
    assert held["error"]["code"] == "unknown_form_version"
    assert json.loads(held["payload"])["id"] == item["id"]
    expect(page.locator("#queue")).to_have_attribute("data-held", "1")

    def reported() -> bool:
        return any(
            d["held"] == 1 and d["held_reasons"] == {"unknown_form_version": 1}
            for d in site.devices()
            if not d["revoked"]
        )

    assert wait_until(reported, timeout=20, page=page)

    page.unroute(REJECTIONS)
    page.reload()  # any drain uploads it
    wait_until(lambda: stored(page, "rejected") == [], timeout=20, page=page)
    records = [r for r in site.rejected() if r["id"] == item["id"]]
    assert len(records) == 1
    assert records[0]["code"] == "unknown_form_version"
    assert count(site, crm, "refused-whole@example.com") == 0
    assert count(site, crm, "after-refused@example.com") == 1
    expect(page.locator("#queue")).to_be_hidden()


# --- a revoked tablet, a closed store --------------------------------------------------------


def test_a_revoked_tablet_reports_its_queue_and_sends_it_once_paired_again(
    page: Page, context: BrowserContext, site: Site, crm: Crm
) -> None:
    pair(page, site)
    # This tablet is the newest of the shop's (earlier tests' tablets may be revoked too).
    mine = max(device["id"] for device in site.devices())
    context.set_offline(True)
    for name in ("one", "two"):
        sign_up(page, f"rev-{name}@example.com")
        next_shopper(page)
    site.revoke_devices()
    context.set_offline(False)
    title = page.get_by_role("heading", name="This tablet is not paired")
    expect(title).to_be_visible(timeout=20_000)
    assert len(stored(page, "queue")) == 2

    # The portal learns what waits on the revoked tablet from its heartbeat.
    def waiting() -> list[int]:
        return [
            d["id"]
            for d in site.devices()
            if d["id"] == mine and d["revoked"] and d["queue_depth"] == 2
        ]

    assert wait_until(waiting, timeout=20, page=page)
    revoked = waiting()
    # ... and tells the manager (the wording is the portal's: "2 sign-ups wait on this tablet").
    tablets = " ".join(site.portal_page("/tablets/").split())
    assert re.search(r"\b2 sign-ups wait\b[^<]*pair it again", tablets), tablets
    assert count(site, crm, "rev-one@example.com") == 0
    assert_accessible(page)
    page.set_viewport_size(PHONE)
    assert_accessible(page)
    page.set_viewport_size(TABLET)

    # Staff, by keyboard: hold Enter on the title for three seconds.
    title.focus()
    page.keyboard.down("Enter")
    expect(page.get_by_label("Pairing code")).to_be_visible(timeout=5000)
    page.keyboard.up("Enter")
    assert_accessible(page)
    page.get_by_label("Pairing code").fill(site.pairing_code())
    page.get_by_role("button", name="Pair").click()
    expect(page.get_by_label("Email address")).to_be_visible()
    site.wait_for_email("rev-one@example.com", page=page)
    site.wait_for_email("rev-two@example.com", page=page)
    wait_until(lambda: stored(page, "queue") == [], page=page)
    assert count(site, crm, "rev-one@example.com") == count(site, crm, "rev-two@example.com") == 1
    # The new pairing took the queue over: nothing is said to wait on the revoked tablet now.
    # (said by the next heartbeat, which may still be on its way)
    assert wait_until(
        lambda: all(d["queue_depth"] == 0 for d in site.devices() if d["id"] in revoked),
        page=page,
    )


def test_a_closed_store_takes_no_sign_up_and_still_stores_those_it_held(
    page: Page, context: BrowserContext, site: Site, crm: Crm
) -> None:
    page.clock.install()
    pair(page, site, "camden")
    context.set_offline(True)
    sign_up(page, "before-close@example.com")
    next_shopper(page)
    site.set_open("camden", False)
    try:
        context.set_offline(False)  # the tablet sends what it holds, and its heartbeat
        closed = page.get_by_role("heading", name="This store is not taking sign-ups")
        expect(closed).to_be_visible(timeout=15_000)
        expect(page.get_by_label("Email address")).to_have_count(0)
        expect(page.locator("#languages")).to_be_hidden()
        row = site.wait_for_email("before-close@example.com", page=page)
        assert row["email"] == "before-close@example.com"
        assert_accessible(page)
        page.set_viewport_size(PHONE)
        assert_accessible(page)
        page.set_viewport_size(TABLET)

        site.set_open("camden", True)
        page.clock.run_for(61_000)  # the minute's check
        expect(page.get_by_label("Email address")).to_be_visible(timeout=15_000)
    finally:
        site.set_open("camden", True)
    sign_up(page, "after-open@example.com")
    site.wait_for_email("after-open@example.com", page=page)
    assert (
        count(site, crm, "before-close@example.com")
        == count(site, crm, "after-open@example.com")
        == 1
    )
