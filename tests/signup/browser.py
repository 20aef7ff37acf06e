"""Real-browser plumbing for the kiosk tests: a committed e2e tenant, a live server, Chromium.

The live server is a ``runserver`` subprocess on the worker's own test database, not
pytest-django's ``live_server``: that one flushes the database afterwards, which would wipe the
session tenants every other test relies on. What the browser needs is committed for real and
removed again (schema and tenant row) when the module is done.
"""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django_tenants.utils import tenant_context
from playwright.sync_api import Page, ViewportSize, expect

from customerinfo.embedded import free_port
from signup import services
from signup.definitions import default_definition
from signup.models import Device, Form, Location, RejectedSubmission, Submission
from tenants.models import Tenant
from tenants.schemas import schema_drop
from tenants.services import tenant_create

ROOT = Path(__file__).resolve().parents[2]
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
IDLE_SECONDS = 15
#: axe-core (MPL-2.0), vendored for the tests only: the accessibility checks run offline.
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
#: The WCAG 2.1 A and AA rules (plus axe's best practices, which catch the rest of what a
#: shopper with a screen reader meets: landmarks, one main, headings).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


T = TypeVar("T")
_database_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-db")


def off_loop(blocker: Any, function: Callable[[], T]) -> T:
    """Runs database work in a plain thread.

    Playwright's sync API keeps an asyncio loop running in the test's thread, and Django
    refuses database calls there; a thread of its own has no loop. Its connection is closed
    after every call, so the test database can be dropped at the end of the session.
    """

    def call() -> T:
        with blocker.unblock():
            try:
                return function()
            finally:
                connections.close_all()

    return _database_thread.submit(call).result()


def worker_slug() -> str:
    """One e2e tenant per xdist worker (each has its own database; the name only helps logs)."""
    return f"kiosk-e2e-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def kiosk_definition() -> dict[str, Any]:
    """The default form plus a phone field and SMS consent, a help text and branding."""
    definition = default_definition()
    definition["fields"][0]["help"] = {
        "en": "We only use it to send you our news.",
        "fr": "Nous l'utilisons seulement pour nos nouvelles.",
        "es": "Solo lo usamos para enviarle novedades.",
    }
    definition["fields"].append(
        {
            "key": "phone",
            "type": "phone",
            "required": False,
            "label": {"en": "Mobile phone", "fr": "Téléphone portable", "es": "Teléfono móvil"},
            "help": {},
        }
    )
    definition["consents"]["sms"]["enabled"] = True
    definition["branding"].update(
        {"primary_color": "#7a1f5c", "logo_url": "/static/kiosk/icon.svg"}
    )
    definition["idle_timeout_seconds"] = IDLE_SECONDS
    return definition


def database_url() -> str:
    """The URL of the database this worker's tests use (its test database, once set up)."""
    database = settings.DATABASES["default"]
    host = database.get("HOST") or database.get("OPTIONS", {}).get("host") or ""
    user = quote(database.get("USER") or "", safe="")
    password = database.get("PASSWORD") or ""
    credentials = f"{user}:{quote(password, safe='')}" if password else user
    name = quote(database["NAME"], safe="")
    if str(host).startswith("/"):
        return f"postgres://{credentials}@/{name}?host={quote(host, safe='')}"
    port = f":{database['PORT']}" if database.get("PORT") else ""
    return f"postgres://{credentials}@{host or '127.0.0.1'}{port}/{name}"


#: The stores of the e2e tenant, by code: (name, country, time zone, language).
STORES = {
    "rivoli": ("Rivoli", "FR", "Europe/Paris", ""),
    "soho": ("SoHo", "US", "America/New_York", ""),
    "camden": ("Camden", "GB", "Europe/London", ""),
    "lyon": ("Lyon Part-Dieu", "FR", "Europe/Paris", "fr"),
}


@dataclass
class KioskTenant:
    tenant: Tenant
    location_id: int
    #: Store ids by code (see STORES); ``location_id`` is Rivoli's.
    locations: dict[str, int] = field(default_factory=dict)
    devices_named: int = field(default=0)

    @property
    def host(self) -> str:
        return f"{self.tenant.slug}.{settings.BASE_DOMAIN}"

    def pairing_code(self, store: str = "rivoli") -> str:
        """A fresh one-time code for a new tablet (committed: the server must see it)."""
        self.devices_named += 1
        with tenant_context(self.tenant):
            location = Location.objects.get(pk=self.locations.get(store, self.location_id))
            _, code = services.pairing_code_create(
                actor=None, location=location, device_name=f"Tablet {self.devices_named}"
            )
        return code

    def submissions(self) -> list[dict[str, Any]]:
        with tenant_context(self.tenant):
            return [
                {
                    "id": str(row.pk),
                    "email": row.email,
                    "first_name": row.first_name,
                    "phone": row.phone,
                    "locale": row.locale,
                    "device": row.device_id,
                    "location": row.location_id,
                    "answers": row.answers,
                    "set_aside": row.set_aside,
                    "consents": {c.channel: c.granted for c in row.consents.all()},
                }
                for row in Submission.objects.prefetch_related("consents").order_by("captured_at")
            ]

    def rejected(self) -> list[dict[str, Any]]:
        """The sign-ups the server refused whole and kept (RejectedSubmission)."""
        with tenant_context(self.tenant):
            return [
                {
                    "id": str(row.pk),
                    "code": row.code,
                    "status": row.status_code,
                    "email": row.email,
                    "payload": row.payload,
                }
                for row in RejectedSubmission.objects.order_by("received_at")
            ]

    def devices(self) -> list[dict[str, Any]]:
        """Every tablet with what it last reported of its queue."""
        with tenant_context(self.tenant):
            return [
                {
                    "id": row.pk,
                    "name": row.name,
                    "location": row.location_id,
                    "revoked": row.revoked_at is not None,
                    "queue_depth": row.queue_depth,
                    "held": row.held_count,
                    "held_reasons": row.held_reasons,
                }
                for row in Device.objects.order_by("pk")
            ]

    def portal_page(self, path: str) -> str:
        """A portal page as the shop's owner sees it (Django's test client, in this process)."""
        client = Client(HTTP_HOST=self.host)
        with tenant_context(self.tenant):
            owner = get_user_model().objects.get(email=f"owner@{self.tenant.slug}.example")
            client.force_login(owner)
            # Inside the context: the request routes this thread's connection to the tenant's
            # schema, and leaving the context puts it back, so the next fixture starts in public.
            response = client.get(path)
        assert response.status_code == 200, response.status_code
        return response.content.decode()

    def set_open(self, store: str, is_open: bool) -> None:
        """Closes or opens a store as the portal does (its tablets learn it from the server)."""
        with tenant_context(self.tenant):
            location = Location.objects.get(pk=self.locations[store])
            services.location_update(
                actor=None,
                location=location,
                name=location.name,
                country=location.country,
                time_zone=location.time_zone,
                form=location.form,
                is_active=is_open,
            )

    def publish_definition(self, definition: dict[str, Any]) -> int:
        """Publishes ``definition`` as the default form's new version; returns its id."""
        with tenant_context(self.tenant):
            form = Form.objects.get(is_default=True)
            form = services.form_draft_update(actor=None, form=form, definition=definition)
            return services.form_publish(actor=None, form=form).pk

    def publish_welcome(self, text: str) -> int:
        """Publishes a new version of the form with another welcome text; returns its id."""
        with tenant_context(self.tenant):
            form = Form.objects.get(is_default=True)
            definition = dict(form.draft)
            definition["texts"] = {**definition["texts"], "welcome": {"en": text, "fr": text}}
            form = services.form_draft_update(actor=None, form=form, definition=definition)
            return services.form_publish(actor=None, form=form).pk

    def revoke_devices(self) -> None:
        with tenant_context(self.tenant):
            for device in Location.objects.get(pk=self.location_id).devices.all():
                services.device_revoke(actor=None, device=device)


def kiosk_tenant_remove(slug: str) -> None:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        return
    schema_drop(schema_name=tenant.schema_name)
    tenant.delete()


def kiosk_tenant_create(slug: str) -> KioskTenant:
    """A provisioned tenant with one store and a published default form.

    Call outside any test transaction: every row commits, for the live server to see. Remove
    it with kiosk_tenant_remove.
    """
    kiosk_tenant_remove(slug)  # left over by an interrupted run on a reused database
    tenant = tenant_create(
        name="Kiosk E2E Shop",
        slug=slug,
        owner_email=f"owner@{slug}.example",
        owner_password="a-long-test-password",
        provision_now=True,
    )
    try:
        with tenant_context(tenant):
            locations = {
                code: services.location_create(
                    actor=None, name=name, code=code, country=country, time_zone=zone
                )
                for code, (name, country, zone, _) in STORES.items()
            }
            for code, (_, _, _, language) in STORES.items():
                if language:
                    location = locations[code]
                    services.location_update(
                        actor=None,
                        location=location,
                        name=location.name,
                        country=location.country,
                        time_zone=location.time_zone,
                        form=None,
                        language=language,
                    )
            form = services.form_create(
                actor=None, name="Kiosk", is_default=True, definition=kiosk_definition()
            )
            services.form_publish(actor=None, form=form)
    except BaseException:
        kiosk_tenant_remove(slug)
        raise
    return KioskTenant(
        tenant=tenant,
        location_id=locations["rivoli"].pk,
        locations={code: location.pk for code, location in locations.items()},
    )


def _get(url: str, host: str) -> int:
    request = urllib.request.Request(url, headers={"Host": host})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


@contextmanager
def live_server(host: str, log_folder: Path) -> Iterator[str]:
    """``runserver`` on a free port, on this worker's test database; yields its base URL."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CUSTOMERINFO_ENV": "test",
        # Each test pairs its own tablet from the same address: no pairing limit in the way.
        "PAIRING_RATE_LIMIT": "1000/min",
        "DATABASE_CONN_MAX_AGE": "0",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "text",
    }
    log_path = log_folder / "kiosk-server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
            [
                sys.executable,
                "manage.py",
                "runserver",
                f"127.0.0.1:{port}",
                "--noreload",
                "--nostatic",
                "--skip-checks",
            ],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the kiosk server stopped:\n{log_path.read_text()}")
            try:
                if _get(f"http://127.0.0.1:{port}/kiosk/", host) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the kiosk server did not start:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(
    check: Any, *, timeout: float = 20.0, interval: float = 0.25, page: Page | None = None
) -> Any:
    """Polls ``check()`` until it returns something truthy; returns that or the last value.

    Pass the ``page`` when it has routes (``page.route``): Playwright's sync API runs their
    handlers only while the test calls into it, so the page waits instead of ``time.sleep``.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        if page is None:
            time.sleep(interval)
        else:
            page.wait_for_timeout(interval * 1000)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on what the page shows now (empty: none)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE))
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


class Site:
    """The live kiosk: its base URL and the tenant behind it, read with the database unblocked."""

    def __init__(self, url: str, tenant: KioskTenant, blocker: Any) -> None:
        self.url, self.tenant, self.blocker = url, tenant, blocker

    def pairing_code(self, store: str = "rivoli") -> str:
        return off_loop(self.blocker, lambda: self.tenant.pairing_code(store))

    def submissions(self) -> list[dict[str, Any]]:
        return off_loop(self.blocker, self.tenant.submissions)

    def rejected(self) -> list[dict[str, Any]]:
        return off_loop(self.blocker, self.tenant.rejected)

    def devices(self) -> list[dict[str, Any]]:
        return off_loop(self.blocker, self.tenant.devices)

    def portal_page(self, path: str) -> str:
        return off_loop(self.blocker, lambda: self.tenant.portal_page(path))

    def revoke_devices(self) -> None:
        off_loop(self.blocker, self.tenant.revoke_devices)

    def set_open(self, store: str, is_open: bool) -> None:
        off_loop(self.blocker, lambda: self.tenant.set_open(store, is_open))

    def publish_definition(self, definition: dict[str, Any]) -> int:
        return off_loop(self.blocker, lambda: self.tenant.publish_definition(definition))

    def publish_welcome(self, text: str) -> int:
        return off_loop(self.blocker, lambda: self.tenant.publish_welcome(text))

    def wait_for_submissions(
        self, count: int, timeout: float = 30, page: Page | None = None
    ) -> list[dict[str, Any]]:
        """Polls until at least ``count`` sign-ups are stored; returns them all."""
        wait_until(lambda: len(self.submissions()) >= count, timeout=timeout, page=page)
        return self.submissions()

    def wait_for_email(
        self, email: str, timeout: float = 30, page: Page | None = None
    ) -> dict[str, Any]:
        """Polls until the sign-up of ``email`` is stored; returns it."""

        def find() -> dict[str, Any] | None:
            return next((row for row in self.submissions() if row["email"] == email), None)

        row: dict[str, Any] | None = wait_until(find, timeout=timeout, page=page)
        assert row is not None, f"{email} was never stored"
        return row

    def emails(self) -> list[str]:
        return [row["email"] for row in self.submissions()]


@contextmanager
def kiosk_site(blocker: Any, log_folder: Path) -> Iterator[Site]:
    """The worker's e2e tenant behind a live server, for one test module."""
    slug = worker_slug()
    tenant = off_loop(blocker, lambda: kiosk_tenant_create(slug))
    try:
        with live_server(tenant.host, log_folder) as url:
            yield Site(url, tenant, blocker)
    finally:
        off_loop(blocker, lambda: kiosk_tenant_remove(slug))


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
