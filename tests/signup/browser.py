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
from django.db import connections
from django_tenants.utils import tenant_context
from playwright.sync_api import ViewportSize

from customerinfo.embedded import free_port
from signup import services
from signup.definitions import default_definition
from signup.models import Form, Location, Submission
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
IDLE_SECONDS = 15


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


@dataclass
class KioskTenant:
    tenant: Tenant
    location_id: int
    devices_named: int = field(default=0)

    @property
    def host(self) -> str:
        return f"{self.tenant.slug}.{settings.BASE_DOMAIN}"

    def pairing_code(self) -> str:
        """A fresh one-time code for a new tablet (committed: the server must see it)."""
        self.devices_named += 1
        with tenant_context(self.tenant):
            location = Location.objects.get(pk=self.location_id)
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
                    "consents": {c.channel: c.granted for c in row.consents.all()},
                }
                for row in Submission.objects.prefetch_related("consents").order_by("captured_at")
            ]

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
            location = services.location_create(
                actor=None, name="Rivoli", code="rivoli", country="FR", time_zone="Europe/Paris"
            )
            form = services.form_create(
                actor=None, name="Kiosk", is_default=True, definition=kiosk_definition()
            )
            services.form_publish(actor=None, form=form)
    except BaseException:
        kiosk_tenant_remove(slug)
        raise
    return KioskTenant(tenant=tenant, location_id=location.pk)


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


def wait_until(check: Any, *, timeout: float = 20.0, interval: float = 0.25) -> Any:
    """Polls ``check()`` until it returns something truthy; returns that or the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
