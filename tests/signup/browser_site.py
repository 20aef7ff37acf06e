"""The kiosk's live server for the browser tests, and the Site they drive through it.

The live server is a ``runserver`` subprocess on the worker's own test database, not
pytest-django's ``live_server``: that one flushes the database afterwards, which would wipe the
session tenants every other test relies on. What the browser needs is committed for real and
removed again (schema and tenant row) when the module is done (see browser_tenant.py).
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
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from django.conf import settings
from django.db import connections
from playwright.sync_api import Page

from customerinfo.embedded import free_port
from tests.signup.browser_tenant import KioskTenant, kiosk_tenant_create, kiosk_tenant_remove

ROOT = Path(__file__).resolve().parents[2]


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
