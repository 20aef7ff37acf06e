"""Real-browser plumbing for the kiosk tests: Chromium and the screens it plays, what a shopper
does on the kiosk page, the tablet's own storage, and the accessibility checks.

The live server and the ``Site`` the tests drive are in browser_site.py, the committed e2e tenant
behind it in browser_tenant.py. Their names are imported from here as well: this module
re-exports them.
"""

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, ViewportSize, expect

from tests.signup.browser_site import (
    ROOT,
    Site,
    database_url,
    kiosk_site,
    live_server,
    off_loop,
    wait_until,
    worker_slug,
)
from tests.signup.browser_tenant import (
    IDLE_SECONDS,
    STORES,
    KioskTenant,
    kiosk_definition,
    kiosk_tenant_create,
    kiosk_tenant_remove,
)

__all__ = [
    "AXE",
    "AXE_TAGS",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "IDLE_SECONDS",
    "PHONE",
    "READ_STORE",
    "ROOT",
    "SMALL_PHONE",
    "STORES",
    "TABLET",
    "THANK_YOU",
    "WRITE_QUEUE",
    "KioskTenant",
    "Site",
    "assert_accessible",
    "axe_violations",
    "database_url",
    "enqueue",
    "horizontal_overflow",
    "kiosk_definition",
    "kiosk_site",
    "kiosk_tenant_create",
    "kiosk_tenant_remove",
    "live_server",
    "next_shopper",
    "off_loop",
    "pair",
    "queue_item",
    "sign_up",
    "stored",
    "wait_until",
    "worker_slug",
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: A tablet's screen: the size every kiosk screen is designed for.
TABLET: ViewportSize = {"width": 1024, "height": 768}
#: Phones: the kiosk must still fit (no sideways scrolling, no zooming out).
PHONE: ViewportSize = {"width": 390, "height": 844}
SMALL_PHONE: ViewportSize = {"width": 320, "height": 640}
#: axe-core (MPL-2.0), vendored for the tests only: the accessibility checks run offline.
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
#: The WCAG 2.1 A and AA rules (plus axe's best practices, which catch the rest of what a
#: shopper with a screen reader meets: landmarks, one main, headings).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on what the page shows now (empty: none)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated, not added as a <script>: the pages' Content-Security-Policy refuses inline
        # scripts, and a script the test runner evaluates is not the page's.
        page.evaluate(AXE.read_text())
    results: dict[str, Any] = page.evaluate(
        """async (tags) => {
            const results = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return {violations: results.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary),
            }))};
        }""",
        AXE_TAGS,
    )
    violations: list[dict[str, Any]] = results["violations"]
    return violations


def assert_accessible(page: Page) -> None:
    violations = axe_violations(page)
    assert not violations, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']}\n  " + "\n  ".join(v["nodes"]) for v in violations
    )


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no sideways scrolling)."""
    overflow: int = page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )
    return max(overflow, 0)


# --- the live kiosk, as the tests drive it ---------------------------------------------------

THANK_YOU = "Thank you! You're signed up."


def pair(page: Page, site: Site, store: str = "rivoli", *, ready: str = "Email address") -> None:
    """Opens the kiosk on a new tablet and pairs it to ``store``; waits for the form."""
    page.goto(f"{site.url}/kiosk/")
    page.get_by_label("Pairing code").fill(site.pairing_code(store))
    page.get_by_role("button", name="Pair").click()
    expect(page.get_by_label(ready)).to_be_visible()


def sign_up(
    page: Page,
    email: str,
    *,
    first_name: str = "",
    phone: str = "",
    email_consent: bool = False,
    sms_consent: bool = False,
    thanked: bool = True,
) -> None:
    page.get_by_label("Email address").fill(email)
    if first_name:
        page.get_by_label("First name").fill(first_name)
    if phone:
        page.get_by_label("Mobile phone").fill(phone)
    if email_consent:
        page.locator("#consent-email").check()
    if sms_consent:
        page.locator("#consent-sms").check()
    page.get_by_role("button", name="Sign up").click()
    if thanked:
        expect(page.get_by_role("heading", name=THANK_YOU)).to_be_visible()


def next_shopper(page: Page) -> None:
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_label("Email address")).to_be_visible()


READ_STORE = """async (name) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("kiosk");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return await new Promise((resolve, reject) => {
    const request = db.transaction(name).objectStore(name).getAll();
    request.onsuccess = () => { db.close(); resolve(request.result); };
    request.onerror = () => reject(request.error);
  });
}"""

#: Puts a sign-up straight into the tablet's queue, as if captured by an older kiosk release or
#: typed in a way the page's checks missed: what the server does with it is then what counts.
WRITE_QUEUE = """async (item) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("kiosk");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  await new Promise((resolve, reject) => {
    const tx = db.transaction("queue", "readwrite");
    tx.objectStore("queue").put(item);
    tx.oncomplete = () => { db.close(); resolve(); };
    tx.onerror = () => reject(tx.error);
  });
}"""


def stored(page: Page, store: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = page.evaluate(READ_STORE, store)
    return items


def queue_item(page: Page, email: str, **answers: Any) -> dict[str, Any]:
    """A sign-up as the kiosk queues it, for the form the tablet shows now."""
    item: dict[str, Any] = page.evaluate(
        """async ({email, answers}) => {
            const request = indexedDB.open("kiosk");
            const db = await new Promise((resolve) => {
                request.onsuccess = () => resolve(request.result);
            });
            const form = await new Promise((resolve) => {
                const get = db.transaction("meta").objectStore("meta").get("form");
                get.onsuccess = () => resolve(get.result);
            });
            db.close();
            return {id: crypto.randomUUID(), form_version: form.version, locale: "en",
                    captured_at: new Date().toISOString(), answers: {email, ...answers},
                    consents: {}, attempts: 0, next_attempt_at: 0};
        }""",
        {"email": email, "answers": answers},
    )
    return item


def enqueue(page: Page, item: dict[str, Any]) -> None:
    page.evaluate(WRITE_QUEUE, item)
