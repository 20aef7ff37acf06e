"""The form builder in a real headless Chromium: tabs by keyboard, cards that close to one line,
fields moved, added and removed without a reload, and the order kept by "Save draft".

The plumbing (live server, e2e tenant, Chromium) is tests/signup/browser.py's; signing in and
reading the saved draft are test_preview_browser.py's.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.signup.browser import PHONE, Site, assert_accessible
from tests.signup.browser_portal import public_kiosk_site
from tests.signup.test_preview_browser import draft, every_field_definition, open_builder

pytestmark = [pytest.mark.django_db]  # see test_kiosk_browser.py: the site commits for real

expect.set_options(timeout=10_000)

#: A laptop: the screen the 7,175 px tall builder was measured on.
LAPTOP: ViewportSize = {"width": 1366, "height": 900}


@pytest.fixture(scope="module")
def site(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """conftest's ``site``, made from the public schema (see browser_portal.py)."""
    with public_kiosk_site(django_db_blocker, tmp_path_factory.mktemp("builder")) as made:
        yield made


@pytest.fixture
def portal(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=LAPTOP, locale="en-US")
    yield context
    context.close()


def eight_fields() -> dict[str, Any]:
    """Every type of field but the last name (the one a test adds): eight in all."""
    definition = every_field_definition()
    definition["fields"] = [f for f in definition["fields"] if f["type"] != "last_name"][:8]
    return definition


def keys(page: Page) -> list[str]:
    """The field keys in the order the page holds them (hidden inputs of standard fields too)."""
    found: list[str] = page.locator("#field-list > .field-card").evaluate_all(
        """(cards) => cards.map((card, index) =>
            card.querySelector(`[name="fields.${index}.key"]`).value)"""
    )
    return found


def test_tabs_cards_and_a_move_kept_by_save(portal: BrowserContext, site: Site) -> None:
    site.publish_definition(eight_fields())
    page = portal.new_page()
    open_builder(page, site)
    # Eight fields, each closed to one line: a fraction of the 7,175 px page it was.
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height < 2500, height
    before = keys(page)
    assert len(before) == 8

    # Tabs by keyboard: the arrows choose, the panel follows, the address remembers.
    fields_tab = page.get_by_role("tab", name="Fields")
    expect(fields_tab).to_have_attribute("aria-selected", "true")
    fields_tab.focus()
    page.keyboard.press("ArrowRight")
    consents = page.get_by_role("tab", name="Consents")
    expect(consents).to_be_focused()
    expect(consents).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tabpanel", name="Consents")).to_be_visible()
    expect(page.locator("#fields")).to_be_hidden()
    assert page.url.endswith("#consents")
    page.keyboard.press("End")
    expect(page.get_by_role("tab", name="Look")).to_be_focused()
    expect(page.get_by_label("Buttons and accents")).to_be_visible()
    page.keyboard.press("ArrowRight")  # round to the first
    expect(fields_tab).to_have_attribute("aria-selected", "true")

    # A card opens to edit and closes again.
    label = page.locator('[name="fields.1.label.en"]')
    expect(label).to_be_hidden()
    card = page.locator("#field-1 summary")
    card.click()
    expect(label).to_be_visible()
    label.fill("Given name")
    expect(card).to_contain_text("Given name")  # the closed line follows the label
    card.click()
    expect(label).to_be_hidden()

    # Move the third field up, without a reload; the screen reader hears where it went.
    page.evaluate("() => { window.notReloaded = true; }")
    third = before[2]
    page.locator("#field-2").get_by_role("button", name="Move up").click()
    expect(page.locator("#builder-announce")).to_have_text("Mobile phone moved to position 2 of 8.")
    assert keys(page) == [before[0], third, before[1], *before[3:]]
    expect(page.locator("#field-1").get_by_role("button", name="Move up")).to_be_focused()
    assert page.evaluate("() => window.notReloaded === true")

    page.get_by_role("button", name="Save draft", exact=True).last.click()
    expect(page.get_by_text("Draft saved.")).to_be_visible()
    saved = [field["key"] for field in draft(site)["fields"]]
    assert saved == [before[0], third, before[1], *before[3:]]
    assert draft(site)["fields"][2]["label"]["en"] == "Given name"
    page.reload()
    assert keys(page) == saved

    # A save with mistakes opens the first tab that holds one, whichever tab was chosen.
    page.get_by_role("tab", name="Texts").click()
    page.get_by_role("tab", name="Consents").click()
    page.locator('[name="consents.email.text.fr"]').fill("")
    page.get_by_role("tab", name="Look").click()
    page.get_by_role("button", name="Save draft", exact=True).last.click()
    expect(page.get_by_role("alert")).to_contain_text("nothing was saved")
    expect(page.get_by_role("tab", name="Consents 1 mistake")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(page.locator('[name="consents.email.text.fr"]')).to_be_visible()


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_fields_come_and_go_without_a_reload_and_all_is_accessible(
    portal: BrowserContext, site: Site, size: ViewportSize
) -> None:
    site.publish_definition(eight_fields())
    page = portal.new_page()
    page.set_viewport_size(size)
    preview = open_builder(page, site)
    assert_accessible(page)
    page.evaluate("() => { window.notReloaded = true; }")

    page.get_by_label("Add a field").select_option("last_name")
    page.get_by_role("button", name="Add field").click()
    added = page.locator("#field-8")
    expect(added.locator('[name="fields.8.label.en"]')).to_have_value("Last name")
    expect(added.locator('[name="fields.8.label.en"]')).to_be_focused()
    expect(page.locator("#builder-announce")).to_have_text("Last name added at position 9.")
    expect(preview.get_by_label("Last name")).to_be_visible()  # drawn in the preview

    page.locator("#field-3").get_by_role("button", name="Remove").click()
    expect(page.locator("#field-list > .field-card")).to_have_count(8)
    expect(page.locator("#builder-announce")).to_contain_text("removed")
    expect(page.locator('[name="fields.8.type"]')).to_have_count(0)  # renumbered
    assert page.evaluate("() => window.notReloaded === true")
    page.locator("#field-2 summary").click()  # an open card, as it is edited
    assert_accessible(page)
