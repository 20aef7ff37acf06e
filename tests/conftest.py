"""Shared fixtures: the template schema, the personas, and clients for their hosts.

Tenant schemas are made once per test database (per xdist worker) by cloning the template, so a
test never waits for migrations. Each test then runs inside a transaction that is rolled back,
which in PostgreSQL undoes rows and DDL alike, so no test needs to drop a schema.

Personas, as in every test of this project:
- alice owns Alice's shop (tenant ``alice``);
- bob is a manager on alice's team;
- charlie owns another retailer and must see nothing of alice's.
"""

import uuid
from collections.abc import Iterator

import pytest
from celery._state import get_current_app
from django.test import Client
from django_tenants.utils import tenant_context
from pytest_django import DjangoDbBlocker, Settings

from customerinfo.celery import app as celery_app
from customerinfo.core.accounts.models import Role, User
from customerinfo.core.tenancy import use_public_schema
from signup.devices import devices_memory_clear
from signup.services import form_version_cache_clear
from tenants.models import Tenant
from tenants.selectors import host_cache_clear
from tenants.services import template_ensure_current, tenant_create
from tests.signup.factories import Kiosk, kiosk_create

PASSWORD = "a-long-test-password"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> None:
    with django_db_blocker.unblock():
        template_ensure_current()
        for slug, name in [("alice", "Alice's Shop"), ("charlie", "Charlie's Store")]:
            tenant_create(
                name=name,
                slug=slug,
                owner_email=f"{slug}@{slug}.example",
                owner_password=PASSWORD,
                provision_now=True,
            )


@pytest.fixture(autouse=True)
def _cache_of_its_own(settings: Settings) -> None:
    """Redis is not rolled back: each test gets fresh cache keys (rate limits, cached reads)."""
    cache = dict(settings.CACHES["default"])
    cache["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = {**settings.CACHES, "default": cache}


@pytest.fixture(autouse=True)
def _no_remembered_reads() -> None:
    """Rolled-back rows must not survive in the per-process caches of routing and forms."""
    host_cache_clear()
    form_version_cache_clear()
    devices_memory_clear()


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    """A test that switched schema must not leave the next one in it."""
    use_public_schema()
    yield
    use_public_schema()


@pytest.fixture(autouse=True)
def _project_celery_app_stays_current() -> Iterator[None]:
    """A test that makes another Celery app current (``Celery(...)`` does by default, and so do
    Celery's test workers) fails, and the project's app is put back: code that finds tasks
    through ``current_app`` (the outbox wakes the CRM sender by name) would otherwise reach
    that app's copies of the project's tasks for the rest of the session."""
    yield
    current = get_current_app()
    if current is not celery_app:
        celery_app.set_current()
        celery_app.set_default()
        pytest.fail(f"the test left Celery app {current.main!r} current; pass set_as_current=False")


@pytest.fixture
def alice_tenant(db: None) -> Tenant:
    return Tenant.objects.get(slug="alice")


@pytest.fixture
def charlie_tenant(db: None) -> Tenant:
    return Tenant.objects.get(slug="charlie")


def _user(tenant: Tenant, email: str) -> User:
    with tenant_context(tenant):
        return User.objects.get(email=email)


@pytest.fixture
def alice(alice_tenant: Tenant) -> User:
    return _user(alice_tenant, "alice@alice.example")


@pytest.fixture
def bob(alice_tenant: Tenant) -> User:
    with tenant_context(alice_tenant):
        return User.objects.create_user(
            "bob@alice.example", PASSWORD, full_name="Bob", role=Role.MANAGER
        )


@pytest.fixture
def charlie(charlie_tenant: Tenant) -> User:
    return _user(charlie_tenant, "charlie@charlie.example")


def login(client: Client, tenant: Tenant, user: User) -> None:
    """Signs ``user`` in on ``client``; the session and last_login live in the tenant's schema."""
    with tenant_context(tenant):
        client.force_login(user)


def host_of(tenant: Tenant) -> str:
    return str(tenant.get_primary_domain())


@pytest.fixture
def alice_client(alice_tenant: Tenant) -> Client:
    """Anonymous browser on alice's host."""
    return Client(HTTP_HOST=host_of(alice_tenant))


@pytest.fixture
def charlie_client(charlie_tenant: Tenant) -> Client:
    return Client(HTTP_HOST=host_of(charlie_tenant))


@pytest.fixture
def owner_client(alice_client: Client, alice_tenant: Tenant, alice: User) -> Client:
    """alice, the owner, signed in on her portal."""
    login(alice_client, alice_tenant, alice)
    return alice_client


@pytest.fixture
def manager_client(alice_client: Client, alice_tenant: Tenant, bob: User) -> Client:
    """bob, a manager of alice's shop, signed in on its portal."""
    login(alice_client, alice_tenant, bob)
    return alice_client


@pytest.fixture
def in_alice(alice_tenant: Tenant) -> Iterator[Tenant]:
    """The test runs in alice's schema: what it reads and writes is her shop's."""
    with tenant_context(alice_tenant):
        yield alice_tenant


@pytest.fixture
def kiosk(alice_tenant: Tenant) -> Iterator[Kiosk]:
    """A store of alice's with the brand form published and a paired tablet; the test runs in
    alice's schema."""
    with tenant_context(alice_tenant):
        yield kiosk_create()


@pytest.fixture
def public_client() -> Client:
    return Client(HTTP_HOST="localhost")
