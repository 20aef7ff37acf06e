"""Fixtures shared by the CRM sync tests: a live webhook receiver and alice's destination to it,
portal clients signed in as alice and bob, a fake Salesforce org and the HTTP client the providers
use.

The store and tablet come from tests/conftest.py's ``kiosk``, which also keeps the test in
alice's schema; ``destination`` is made there.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from django.test import Client

from crm_sync.http import http_client
from crm_sync.models import Destination
from crm_sync.providers.webhook import secret_generate
from customerinfo.core.accounts.models import User
from tenants.models import Tenant
from tests.conftest import host_of, login
from tests.signup.factories import Kiosk

from .factories import webhook_destination
from .fakes.salesforce import CLIENT_ID, CLIENT_SECRET, FakeSalesforce
from .fakes.webhook import FakeWebhookReceiver

#: The name of ``destination``: a page that must not show alice's data must not show it either.
NAME = "Alice secret webhook"


@pytest.fixture
def secret() -> str:
    """The signing secret that ``receiver`` accepts and ``destination`` signs with."""
    return secret_generate()


@pytest.fixture
def receiver(secret: str) -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(secrets=[secret]) as fake:
        yield fake


@pytest.fixture
def destination(kiosk: Kiosk, receiver: FakeWebhookReceiver, secret: str) -> Destination:
    """Alice's webhook destination to ``receiver``, named NAME, taking every sign-up."""
    return webhook_destination(url=receiver.url + "/hooks", secret=secret, name=NAME)


@dataclass
class Shop:
    """Alice's shop with a store, a tablet and one webhook destination to a live receiver."""

    tenant: Tenant
    kiosk: Kiosk
    destination: Destination
    receiver: FakeWebhookReceiver
    secret: str


@pytest.fixture
def shop(
    alice_tenant: Tenant,
    kiosk: Kiosk,
    destination: Destination,
    receiver: FakeWebhookReceiver,
    secret: str,
) -> Shop:
    return Shop(alice_tenant, kiosk, destination, receiver, secret)


def _client_of(tenant: Tenant, user: User) -> Client:
    client = Client(HTTP_HOST=host_of(tenant))
    login(client, tenant, user)
    return client


@pytest.fixture
def owner(alice_tenant: Tenant, alice: User) -> Client:
    """alice, the owner, signed in on her portal (a client of its own, beside ``manager``)."""
    return _client_of(alice_tenant, alice)


@pytest.fixture
def manager(alice_tenant: Tenant, bob: User) -> Client:
    """bob, a manager of alice's shop, signed in on its portal."""
    return _client_of(alice_tenant, bob)


@pytest.fixture
def org() -> Iterator[FakeSalesforce]:
    """A fake Salesforce org on loopback that knows the client credentials of fakes.salesforce."""
    fake = FakeSalesforce(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """The HTTP client the providers are given in production (crm_sync.http.http_client)."""
    with http_client() as client:
        yield client
