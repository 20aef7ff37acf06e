"""The form builder's preview in a real headless Chromium: the tablet's own code, drawing the draft.
(Last, the accessibility of the sign-ups and exports pages, on the same live site.)

The claim under test is that a retailer sees what shoppers will: the same form, word for word and
attribute for attribute, as a paired tablet shows for the same definition. The plumbing (live
server, e2e tenant, Chromium) is tests/signup/browser.py's.
"""

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import Browser, BrowserContext, Frame, FrameLocator, Page, expect

from customerinfo.core.tenancy import use_public_schema
from signup import services
from signup.models import Export, ExportStatus, Form, Location, Submission
from tests.conftest import PASSWORD
from tests.signup.browser import (
    AXE,
    AXE_TAGS,
    PHONE,
    TABLET,
    Site,
    assert_accessible,
    kiosk_definition,
    kiosk_site,
    off_loop,
    pair,
)

pytestmark = [pytest.mark.django_db]  # see test_kiosk_browser.py: the site commits for real

expect.set_options(timeout=10_000)

LABEL = {"en": "L", "fr": "L", "es": "L"}

#: What a tablet shows of a form, read the same way on the tablet and in the preview: the form
#: itself, the language buttons, the page's language and the colours branding gave it.
SCREEN = """() => {
  const root = getComputedStyle(document.documentElement);
  const submit = document.querySelector("form.signup button[type=submit]");
  return {
    form: document.querySelector("form.signup").outerHTML,
    languages: document.getElementById("languages").outerHTML,
    lang: document.documentElement.lang,
    colours: ["--bg", "--fg", "--brand", "--on-brand", "--accent", "--error", "--muted"]
      .map((name) => root.getPropertyValue(name).trim()),
    button: [getComputedStyle(submit).backgroundColor, getComputedStyle(submit).color],
  };
}"""


def every_field_definition() -> dict[str, Any]:
    """The kiosk's form with every other field type too, each with its help text."""
    definition = kiosk_definition()
    options = [
        {"value": "tea", "label": {"en": "Tea", "fr": "Thé", "es": "Té"}},
        {"value": "coffee", "label": {"en": "Coffee", "fr": "Café", "es": "Café"}},
    ]
    help_text = {"en": "Why we ask", "fr": "Pourquoi", "es": "Por qué"}
    for key, kind in [
        ("last_name", "last_name"),
        ("birthday", "birthday"),
        ("postal_code", "postal_code"),
        ("drink", "single_choice"),
        ("drinks", "multiple_choice"),
        ("vip", "checkbox"),
        ("note", "short_text"),
    ]:
        field: dict[str, Any] = {
            "key": key,
            "type": kind,
            "required": kind == "single_choice",
            "label": {"en": f"{key} en", "fr": f"{key} fr", "es": f"{key} es"},
            "help": help_text,
        }
        if kind.endswith("_choice"):
            field["options"] = options
        definition["fields"].append(field)
    return definition


def snapshot(page: Page, name: str) -> None:
    """Saves a screenshot when KIOSK_SCREENSHOTS names a folder (for looking, not asserting)."""
    folder = os.environ.get("KIOSK_SCREENSHOTS")
    if folder:
        page.locator(".preview-panel").screenshot(path=str(Path(folder) / f"preview-{name}.png"))


def form_pk(site: Site) -> int:
    def find() -> int:
        with tenant_context(site.tenant.tenant):
            return Form.objects.get(is_default=True).pk

    return off_loop(site.blocker, find)


def draft(site: Site) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with tenant_context(site.tenant.tenant):
            saved: dict[str, Any] = Form.objects.get(is_default=True).draft
            return saved

    return off_loop(site.blocker, read)


@pytest.fixture(scope="module")
def site(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """conftest's ``site``, made from the public schema whatever ran before on this worker.

    Site.portal_page (test_kiosk_no_loss.py) leaves the database thread's connection on the e2e
    tenant's schema: the tenant middleware sets it for the request and nothing sets it back. A
    site made after that on the same worker fails, as tenants are only created from public.
    """
    off_loop(django_db_blocker, use_public_schema)
    with kiosk_site(django_db_blocker, tmp_path_factory.mktemp("preview")) as made:
        yield made


@pytest.fixture
def portal(browser: Browser) -> Iterator[BrowserContext]:
    """A retailer's browser, beside the tablet of the ``context`` fixture."""
    context = browser.new_context(viewport=TABLET, locale="en-US")
    yield context
    context.close()


def open_builder(page: Page, site: Site) -> FrameLocator:
    """Signs the owner in, opens the brand form's builder; returns the preview once drawn."""
    page.goto(f"{site.url}/login/?next=/forms/{form_pk(site)}/")
    page.get_by_label("Email").fill(f"owner@{site.tenant.tenant.slug}.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Preview on the tablet")).to_be_visible()
    preview = page.frame_locator("#preview-frame")
    expect(preview.locator("form.signup")).to_be_visible()
    return preview


def preview_frame(page: Page) -> Frame:
    handle = page.locator("#preview-frame").element_handle()
    frame = handle.content_frame() if handle else None
    assert frame is not None
    return frame


def test_the_preview_shows_what_the_tablet_shows(
    page: Page, portal: BrowserContext, site: Site
) -> None:
    site.publish_definition(every_field_definition())
    pair(page, site)
    builder = portal.new_page()
    preview = open_builder(builder, site)
    frame = preview_frame(builder)
    for language, name, submit in [
        ("es", "Español", "Suscribirse"),
        ("fr", "Français", "S'inscrire"),
        ("en", "English", "Sign up"),
    ]:
        page.get_by_role("button", name=name).click()
        preview.get_by_role("button", name=name).click()
        expect(page.locator("form.signup button[type=submit]")).to_have_text(submit)
        expect(preview.locator("form.signup button[type=submit]")).to_have_text(submit)
        tablet, shown = page.evaluate(SCREEN), frame.evaluate(SCREEN)
        assert shown["lang"] == tablet["lang"] == language
        assert shown["form"] == tablet["form"], language
        assert shown["languages"] == tablet["languages"], language
        assert shown["colours"] == tablet["colours"]
        assert shown["button"] == tablet["button"]
    # Spelled out, what the comparison above covers among the rest: keyboards and autofill.
    email = preview.locator("#f-email")
    expect(email).to_have_attribute("type", "email")
    expect(email).to_have_attribute("inputmode", "email")
    expect(email).to_have_attribute("autocomplete", "off")
    expect(preview.locator("#f-phone")).to_have_attribute("type", "tel")
    expect(preview.locator("#f-postal_code")).to_have_attribute("autocapitalize", "characters")
    expect(preview.get_by_role("img", name="Kiosk E2E Shop")).to_be_visible()  # the logo
    snapshot(builder, "builder")


def test_editing_the_draft_redraws_the_preview_and_saves_nothing(
    portal: BrowserContext, site: Site
) -> None:
    site.publish_definition(kiosk_definition())
    saved = draft(site)
    page = portal.new_page()
    preview = open_builder(page, site)
    page.get_by_role("tab", name="Texts").click()
    page.locator('[name="texts.welcome.en"]').fill("Spring sale: join us")
    expect(preview.get_by_role("heading", level=1)).to_have_text("Spring sale: join us")
    page.get_by_role("tab", name="Fields").click()
    page.locator("#field-0 summary").click()  # the card opens to edit
    page.locator('[name="fields.0.label.en"]').fill("Your email")
    expect(preview.get_by_label("Your email")).to_have_attribute("type", "email")
    page.get_by_role("tab", name="Look").click()
    page.locator('[name="branding.primary_color"]').fill("#116329")
    expect(preview.locator("form.signup button[type=submit]")).to_have_css(
        "background-color", "rgb(17, 99, 41)"
    )
    # A language the form no longer speaks leaves the tablet's language buttons.
    page.get_by_label("Español").first.uncheck()
    expect(preview.get_by_role("button", name="Español")).to_have_count(0)
    expect(preview.get_by_role("button", name="Français")).to_be_visible()
    # Adding a field (unsaved, without a reload: builder.js) draws the new field in the preview,
    # which keeps its language.
    preview.get_by_role("button", name="Français").click()
    page.get_by_role("tab", name="Fields").click()
    page.get_by_label("Add a field").select_option("postal_code")
    page.get_by_role("button", name="Add field").click()
    expect(preview.get_by_label("Code postal")).to_have_attribute("autocapitalize", "characters")
    expect(preview.get_by_role("button", name="S'inscrire")).to_be_visible()
    assert draft(site) == saved


def test_the_preview_checks_like_a_tablet_and_sends_nothing(
    portal: BrowserContext, site: Site
) -> None:
    site.publish_definition(kiosk_definition())
    before = site.submissions()
    page = portal.new_page()
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url))
    preview = open_builder(page, site)
    preview.get_by_label("Email address").fill("not-an-email")
    preview.get_by_role("button", name="Sign up").click()
    expect(preview.get_by_text("Enter a valid email address")).to_be_visible()
    preview.get_by_label("Email address").fill("preview-shopper@example.com")
    preview.locator("#consent-email").check()
    preview.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("status")).to_contain_text("Preview only: nothing was sent.")
    assert site.submissions() == before
    assert not [url for url in sent if "/api/kiosk/" in url]


@pytest.mark.parametrize("size", [TABLET, PHONE], ids=["tablet", "phone"])
def test_the_builder_and_its_preview_are_accessible(
    portal: BrowserContext, site: Site, size: Any
) -> None:
    site.publish_definition(every_field_definition())
    page = portal.new_page()
    page.set_viewport_size(size)
    preview = open_builder(page, site)
    frame = preview_frame(page)
    frame.evaluate(AXE.read_text())  # so axe on the page reaches into the frame
    assert_accessible(page)
    # And the frame on its own, as the document it is (a tablet's page).
    assert not axe_violations_in(frame)
    preview.get_by_role("button", name="Español").click()
    expect(preview.get_by_role("button", name="Suscribirse")).to_be_visible()
    assert not axe_violations_in(frame)
    snapshot(page, f"accessible-{size['width']}")


def axe_violations_in(frame: Frame) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations inside one frame (as axe_violations for a page)."""
    results: list[dict[str, Any]] = frame.evaluate(
        """async (tags) => (await axe.run(document, {runOnly: {type: "tag", values: tags}}))
            .violations.map((v) => ({id: v.id, nodes: v.nodes.map((n) => n.target.join(" "))}))""",
        AXE_TAGS,
    )
    return results


def _signup_and_export(site: Site) -> tuple[str, str]:
    """A sign-up (from a tablet paired for it) and a finished export, committed for the live
    server; returns their ids, for ``_remove``."""

    def make() -> tuple[str, str]:
        with tenant_context(site.tenant.tenant):
            location = Location.objects.get(pk=site.tenant.location_id)
            _, code = services.pairing_code_create(
                actor=None, location=location, device_name="Accessibility till"
            )
            device, _ = services.device_pair(code=code)
            version = Form.objects.get(is_default=True).current_version
            assert version is not None
            submission, _ = services.submission_create(
                device=device,
                submission_id=uuid.uuid4(),
                form_version_id=version.pk,
                locale="en",
                captured_at=timezone.now(),
                answers={"email": "axe@example.com", "first_name": "Axe"},
                consents={"email": True, "sms": False},
            )
            export = Export.objects.create(
                status=ExportStatus.DONE,
                row_count=1,
                file_name="never-read.csv",
                expires_at=timezone.now() + timedelta(hours=1),
            )
            return str(submission.pk), str(export.pk)

    return off_loop(site.blocker, make)


def _remove(site: Site, submission_id: str, export_id: str) -> None:
    def remove() -> None:
        with tenant_context(site.tenant.tenant):
            submission = Submission.objects.get(pk=submission_id)
            device = submission.device
            submission.delete()
            if device is not None:
                device.delete()
            Export.objects.filter(pk=export_id).delete()

    off_loop(site.blocker, remove)


def test_the_signups_and_exports_pages_are_accessible(portal: BrowserContext, site: Site) -> None:
    submission_id, export_id = _signup_and_export(site)
    try:
        page = portal.new_page()
        page.goto(f"{site.url}/login/?next=/signups/")
        page.get_by_label("Email").fill(f"owner@{site.tenant.tenant.slug}.example")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Sign-ups")).to_be_visible()
        expect(page.get_by_role("cell", name="Axe", exact=True)).to_be_visible()
        for size in (TABLET, PHONE):
            page.set_viewport_size(size)
            assert_accessible(page)
        page.goto(f"{site.url}/signups/exports/")
        expect(page.get_by_role("heading", name="Prepared exports")).to_be_visible()
        assert_accessible(page)
        page.goto(f"{site.url}/signups/exports/{export_id}/")
        expect(page.get_by_role("link", name="Download CSV")).to_be_visible()
        assert_accessible(page)
    finally:
        _remove(site, submission_id, export_id)
