"""The kiosk PWA in a real headless Chromium against a live server.

Each test gets a fresh browser profile (a new tablet) on the worker's e2e tenant; rows the
server writes are read back from the database. See tests/signup/browser.py for the plumbing.
"""

import json
import os
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import BrowserContext, Page, expect

from signup.definitions import default_definition
from tests.signup.browser import (
    PHONE,
    SMALL_PHONE,
    TABLET,
    THANK_YOU,
    Site,
    assert_accessible,
    horizontal_overflow,
    kiosk_definition,
    next_shopper,
    pair,
    sign_up,
    stored,
)

pytestmark = [
    # Makes pytest-django create the test database even when only browser tests are selected.
    # Their own transaction stays empty: what the browser needs is committed from another
    # thread (see off_loop) and removed at the end of the module.
    pytest.mark.django_db,
]

FIRST_LOAD_BUDGET = 150_000
expect.set_options(timeout=10_000)


def snapshot(page: Page, name: str) -> None:
    """Saves a screenshot when KIOSK_SCREENSHOTS names a folder (for looking, not asserting)."""
    folder = os.environ.get("KIOSK_SCREENSHOTS")
    if folder:
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(400)  # let the thank-you tick finish its entrance
        page.screenshot(path=str(Path(folder) / f"kiosk-{name}.png"))
        page.screenshot(path=str(Path(folder) / f"kiosk-{name}-full.png"), full_page=True)


TARGET_SIZES = """() => [
  ...document.querySelectorAll("button, input:not([type=checkbox]), select, label.option"),
].filter((node) => node.offsetParent !== null).map((node) => {
  const box = node.getBoundingClientRect();
  return [node.id || node.textContent, box.width, box.height];
})"""


# --- the shell's views (Django test client) ------------------------------------------------


def test_shell_links_its_assets_and_manifest(alice_client: Client) -> None:
    response = alice_client.get("/kiosk/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-cache, max-age=0"
    html = response.content.decode()
    assert '<script type="module" src="/static/kiosk/app.js">' in html
    assert 'rel="manifest" href="/kiosk/manifest.webmanifest"' in html
    assert "Alice&#x27;s Shop" in html


def test_service_worker_is_scoped_to_the_kiosk_and_never_cached(alice_client: Client) -> None:
    response = alice_client.get("/kiosk/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/kiosk/"
    assert response["Cache-Control"] == "no-cache, max-age=0"
    source = response.content.decode()
    precache = json.loads(source.split("const PRECACHE = ", 1)[1].split(";\n", 1)[0])
    assert {
        "/kiosk/",
        "/static/kiosk/app.js",
        "/static/kiosk/store.js",
        # Imported only once the form is on screen, but kept for a tablet that goes offline.
        "/static/kiosk/vendor/libphonenumber-js.max.js",
    } <= set(precache)
    assert 'const VERSION = "' in source


def test_manifest_starts_the_kiosk_full_screen(alice_client: Client) -> None:
    response = alice_client.get("/kiosk/manifest.webmanifest")
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["start_url"] == manifest["scope"] == "/kiosk/"
    assert manifest["display"] == "fullscreen"
    assert manifest["name"] == "Alice's Shop sign-up"
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}


# --- the kiosk in Chromium -----------------------------------------------------------------


def test_pair_then_one_sign_up_is_stored_with_unticked_consents(page: Page, site: Site) -> None:
    pair(page, site)
    snapshot(page, "form")
    sign_up(page, "Ann.Shopper@Example.com", first_name="Ann")
    snapshot(page, "thanks")
    row = site.wait_for_email("ann.shopper@example.com")
    assert row["first_name"] == "Ann"
    assert row["locale"] == "en"
    assert row["consents"] == {"email": False, "sms": False}
    expect(page.locator("#queue")).to_have_attribute("data-unsent", "0")


def test_offline_sign_ups_survive_a_reload_and_are_sent_once(
    page: Page, context: BrowserContext, site: Site
) -> None:
    before = len(site.submissions())
    pair(page, site)
    sign_up(page, "online@example.com")
    site.wait_for_submissions(before + 1)
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    next_shopper(page)

    context.set_offline(True)
    for number in range(3):
        sign_up(page, f"offline{number}@example.com", email_consent=number == 1)
        next_shopper(page)
    queue = page.locator("#queue")
    expect(queue).to_have_attribute("aria-label", "Staff: 3 unsent")
    box = queue.bounding_box()
    assert box is not None
    assert box["width"] <= 20  # a dot for staff, not words for shoppers
    assert box["height"] <= 20
    snapshot(page, "offline-queue")
    assert len(site.submissions()) == before + 1

    response = page.reload()
    assert response is not None
    assert response.from_service_worker
    expect(page.get_by_label("Email address")).to_be_visible()
    expect(page.locator("#queue")).to_have_attribute("aria-label", "Staff: 3 unsent")

    context.set_offline(False)
    rows = site.wait_for_submissions(before + 4)
    emails = [row["email"] for row in rows]
    for number in range(3):
        assert emails.count(f"offline{number}@example.com") == 1
    assert len(rows) == before + 4
    offline1 = next(row for row in rows if row["email"] == "offline1@example.com")
    assert offline1["consents"] == {"email": True, "sms": False}
    expect(page.locator("#queue")).to_have_attribute("data-unsent", "0")
    expect(page.locator("#queue")).to_be_hidden()
    assert stored(page, "queue") == []


def test_idle_prompt_then_wipe_of_half_typed_data(page: Page, site: Site) -> None:
    page.clock.install()
    pair(page, site)
    email = page.get_by_label("Email address")
    email.fill("half@example.com")
    page.locator("#consent-email").check()

    page.clock.run_for(16_000)
    prompt = page.get_by_role("dialog", name="Still there?")
    expect(prompt).to_be_visible()
    snapshot(page, "idle")
    page.get_by_role("button", name="Yes, continue").click()
    expect(prompt).to_be_hidden()
    expect(email).to_have_value("half@example.com")

    page.clock.run_for(16_000)
    expect(prompt).to_be_visible()
    page.clock.run_for(11_000)
    expect(prompt).to_be_hidden()
    expect(page.get_by_label("Email address")).to_have_value("")
    expect(page.locator("#consent-email")).not_to_be_checked()
    assert not any(row["email"] == "half@example.com" for row in site.submissions())


def test_next_shopper_sees_an_empty_form(page: Page, site: Site) -> None:
    pair(page, site)
    page.get_by_role("button", name="Français").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_label("Adresse e-mail").fill("bea@example.fr")
    page.get_by_label("Prénom").fill("Béa")
    page.get_by_label("Téléphone portable").fill("06 12 34 56 78")
    page.locator("#consent-email").check()
    page.locator("#consent-sms").check()
    page.get_by_role("button", name="S'inscrire").click()
    expect(page.get_by_role("heading", name="Merci ! Vous êtes inscrit.")).to_be_visible()

    # Nobody touches the tablet: it goes back to the start by itself.
    expect(page.get_by_label("Email address")).to_be_visible(timeout=15_000)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    controls = page.evaluate(
        """() => [...document.querySelectorAll("input, select, textarea")].map(
            (c) => ({id: c.id, value: c.value, checked: c.checked, type: c.type}))"""
    )
    assert {c["id"] for c in controls} >= {"f-email", "f-first_name", "f-phone", "consent-sms"}
    for control in controls:
        if control["type"] in {"checkbox", "radio"}:
            assert not control["checked"], control
        else:
            assert control["value"] == "", control
    expect(page.locator(".error:visible")).to_have_count(0)

    row = site.wait_for_email("bea@example.fr")
    assert row["phone"] == "+33612345678"
    assert row["locale"] == "fr"
    assert row["consents"] == {"email": True, "sms": True}


def test_keyboard_only_sign_up_in_logical_order(page: Page, site: Site) -> None:
    pair(page, site)
    focused = "document.activeElement.id || document.activeElement.textContent"
    expect(page.locator("#form-title")).to_be_focused()  # where a new shopper starts
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "f-email"
    backwards = []
    for _ in range(3):
        page.keyboard.press("Shift+Tab")
        backwards.append(page.evaluate(focused))
    assert backwards == ["Español", "Français", "English"]
    for _ in range(3):
        page.keyboard.press("Tab")
    assert page.evaluate(focused) == "f-email"
    page.keyboard.type("keys@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("Kim")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-phone"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "consent-email"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "consent-sms"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign up"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=THANK_YOU)).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # "Done": straight back to an empty form
    expect(page.get_by_label("Email address")).to_have_value("")

    row = site.wait_for_email("keys@example.com")
    assert row["first_name"] == "Kim"
    assert row["consents"] == {"email": True, "sms": False}


def test_client_checks_show_translated_inline_errors(page: Page, site: Site) -> None:
    pair(page, site)
    page.get_by_label("Mobile phone").fill("12")
    page.locator("#consent-sms").check()
    page.get_by_role("button", name="Sign up").click()
    email = page.get_by_label("Email address")
    expect(email).to_be_focused()
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-email-error")).to_have_text("This field is required.")
    expect(page.locator("#f-phone-error")).to_have_text("Enter a valid phone number.")
    snapshot(page, "errors")
    assert "f-email-error" in (email.get_attribute("aria-describedby") or "")
    assert "f-email-help" in (email.get_attribute("aria-describedby") or "")
    page.get_by_role("button", name="Español").click()
    page.get_by_role("button", name="Suscribirse").click()
    expect(page.locator("#f-email-error")).to_have_text("Este campo es obligatorio.")
    assert stored(page, "queue") == []


def test_email_typo_suggestion_applies_on_tap(page: Page, site: Site) -> None:
    pair(page, site)
    email = page.get_by_label("Email address")
    email.fill("ann@gmial.com")
    suggestion = page.get_by_role("button", name="Did you mean ann@gmail.com?")
    expect(suggestion).to_be_visible()
    suggestion.click()
    expect(email).to_have_value("ann@gmail.com")
    expect(suggestion).to_be_hidden()
    email.fill("ann@example.com")
    expect(page.locator("#f-email-suggestion button")).to_have_count(0)


def test_revoked_tablet_shows_unpaired_and_keeps_its_queue(page: Page, site: Site) -> None:
    pair(page, site)
    site.revoke_devices()
    sign_up(page, "after-revoke@example.com")
    # The thank-you screen is not cut short; the tablet says so before the next shopper.
    expect(page.get_by_role("heading", name="This tablet is not paired")).to_be_visible(
        timeout=15_000
    )
    assert [item["answers"]["email"] for item in stored(page, "queue")] == [
        "after-revoke@example.com"
    ]
    # Shoppers are told to ask staff; nothing on the screen invites them to pair the tablet.
    expect(page.get_by_text("Please ask a member of staff.")).to_be_visible()
    expect(page.get_by_role("button")).to_have_count(0)
    expect(page.get_by_label("Pairing code")).to_have_count(0)
    title = page.get_by_role("heading", name="This tablet is not paired")
    box = title.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.wait_for_timeout(1000)
    page.mouse.up()  # a shopper's tap, even a slow one, does nothing
    page.wait_for_timeout(2500)
    expect(page.get_by_label("Pairing code")).to_have_count(0)
    page.mouse.down()  # staff hold it for three seconds
    expect(page.get_by_label("Pairing code")).to_be_visible(timeout=5000)
    page.mouse.up()
    page.get_by_label("Pairing code").fill(site.pairing_code())
    page.get_by_role("button", name="Pair").click()
    expect(page.get_by_label("Email address")).to_be_visible()
    row = site.wait_for_email("after-revoke@example.com")
    assert row["consents"] == {"email": False, "sms": False}


def test_new_form_version_is_picked_up_between_shoppers(page: Page, site: Site) -> None:
    page.clock.install()
    pair(page, site)
    title = page.locator("#form-title")
    welcome = title.inner_text()
    site.publish_welcome("Join the club")
    email = page.get_by_label("Email address")
    email.fill("typing@")
    with page.expect_response("**/api/kiosk/heartbeat"):
        for _ in range(6):  # a shopper typing slowly while the minute's heartbeat goes out
            page.clock.run_for(10_000)
            email.press("End")
    email.press_sequentially("example.com")
    page.clock.run_for(5_000)
    expect(title).to_have_text(welcome)  # nobody loses what they are typing
    expect(page.get_by_label("Email address")).to_have_value("typing@example.com")
    page.get_by_label("Email address").fill("")
    page.clock.run_for(16_000)  # empty and idle: now the tablet switches
    expect(title).to_have_text("Join the club")
    page.get_by_label("Email address").fill("new@example.com")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name=THANK_YOU)).to_be_visible()
    site.wait_for_email("new@example.com")


def test_form_is_accessible_and_touch_friendly(page: Page, site: Site) -> None:
    pair(page, site)
    email = page.get_by_label("Email address")
    assert email.get_attribute("type") == "email"
    assert email.get_attribute("autocomplete") == "off"
    assert email.get_attribute("aria-required") == "true"
    phone = page.get_by_label("Mobile phone")
    assert (phone.get_attribute("type"), phone.get_attribute("inputmode")) == ("tel", "tel")
    sms = page.locator("#consent-sms")
    assert "consent-sms-disclosure" in (sms.get_attribute("aria-describedby") or "")
    expect(page.locator("#consent-sms-disclosure")).to_contain_text("Reply STOP")
    expect(page.locator("img#logo")).to_have_attribute("alt", "Kiosk E2E Shop")
    expect(page.locator("#store-name")).to_be_hidden()  # the logo says whose form it is
    sizes = page.evaluate(TARGET_SIZES)
    small = [s for s in sizes if s[1] < 48 or s[2] < 48]
    assert not small
    assert_accessible(page)
    page.get_by_role("button", name="Sign up").click()  # the errors too
    expect(page.locator("#f-email-error")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Français").click()
    expect(page).to_have_title("Kiosk E2E Shop — Inscription")
    expect(page.locator("#privacy-notice")).to_have_text(
        "Kiosk E2E Shop utilise vos données uniquement comme vous l'avez accepté ci-dessus. "
        "Demandez notre politique de confidentialité à un membre du personnel."
    )
    page.set_viewport_size(PHONE)
    assert horizontal_overflow(page) == 0
    assert_accessible(page)


def test_first_load_fits_the_budget(page: Page, site: Site) -> None:
    sizes: dict[str, int] = {}
    page.on(
        "response",
        lambda response: (
            sizes.__setitem__(response.url, len(response.body())) if response.ok else None
        ),
    )
    page.goto(f"{site.url}/kiosk/")
    expect(page.get_by_label("Pairing code")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert any(url.endswith("/kiosk/") for url in sizes)
    assert any(url.endswith("/static/kiosk/app.js") for url in sizes)
    assert sum(sizes.values()) <= FIRST_LOAD_BUDGET
    assert not any("/vendor/" in url for url in sizes)  # the phone rules come later, lazily


def test_pairing_screen_names_the_portal_menu_and_is_accessible(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/kiosk/")
    expect(page.get_by_text("(Tablets → Pair a tablet)")).to_be_visible()
    expect(page).to_have_title("Kiosk E2E Shop — Sign up")
    assert_accessible(page)
    page.set_viewport_size(PHONE)
    assert horizontal_overflow(page) == 0
    assert_accessible(page)


def test_default_form_fits_a_tablet_and_a_phone(page: Page, site: Site) -> None:
    """The default form (email, first name, email consent) with no logo: the store's name shows,
    Sign up is on screen without scrolling, and nothing is wider than a phone."""
    site.publish_definition(default_definition())
    try:
        pair(page, site)
        expect(page.locator("#store-name")).to_have_text("Kiosk E2E ShopRivoli")
        expect(page.locator("img#logo")).to_be_hidden()
        button = page.get_by_role("button", name="Sign up")
        box = button.bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= TABLET["height"], box
        expect(page.locator("#privacy-notice")).to_have_text(
            "Kiosk E2E Shop uses your details only as you agree above. "
            "Ask a member of staff for our privacy notice."
        )
        snapshot(page, "default-form")
        assert_accessible(page)
        for size in (PHONE, SMALL_PHONE):
            page.set_viewport_size(size)
            assert horizontal_overflow(page) == 0, size
            header = page.locator("header").bounding_box()
            assert header is not None
            assert header["width"] <= size["width"]
            snapshot(page, f"default-form-{size['width']}")
        assert_accessible(page)
    finally:
        site.publish_definition(kiosk_definition())


def test_a_french_store_returns_to_french_after_each_shopper(page: Page, site: Site) -> None:
    pair(page, site, "lyon", ready="Adresse e-mail")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page).to_have_title("Kiosk E2E Shop — Inscription")
    page.get_by_role("button", name="English").click()
    expect(page).to_have_title("Kiosk E2E Shop — Sign up")
    sign_up(page, "visitor@example.com")
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_label("Adresse e-mail")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    row = site.wait_for_email("visitor@example.com")
    assert row["locale"] == "en"
