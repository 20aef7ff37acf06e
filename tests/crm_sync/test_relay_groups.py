"""The relay's tasks carry several destinations of several tenants; each is sent in its own
schema with this process's HTTP client for the kind, and counted in its destination's tally."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django_tenants.utils import tenant_context

from crm_sync import http, services
from crm_sync.tasks import deliver_due
from outbox.models import Delivery, DeliveryStatus, DeliveryTally
from tenants.models import Tenant
from tests.signup.factories import kiosk_create

from .factories import deliveries_of, sign_up, webhook_destination
from .fakes.server import FakeServer, Reply, Request
from .fakes.webhook import FakeWebhookReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def handed_out(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[list[dict[str, Any]]]:
    """The relay's tasks, one list of groups each, kept here instead of going to Celery; run
    here, their groups go one after the other (threads could not see the test's transaction).
    """
    settings.CRM_SEND_THREADS = 1
    tasks: list[list[dict[str, Any]]] = []
    monkeypatch.setattr(deliver_due, "delay", lambda *, groups: tasks.append(groups))
    return tasks


def _shop(tenant: Tenant, receiver: FakeWebhookReceiver, secret: str, email: str) -> int:
    """A destination in ``tenant`` with one sign-up due; returns the delivery's id."""
    with tenant_context(tenant):
        kiosk = kiosk_create(code=f"relay-{tenant.slug}")
        webhook_destination(url=receiver.url + f"/{tenant.slug}", secret=secret)
        return deliveries_of(sign_up(kiosk, email=email))[0].pk


def test_one_task_carries_the_due_rows_of_several_tenants(
    alice_tenant: Tenant,
    charlie_tenant: Tenant,
    receiver: FakeWebhookReceiver,
    secret: str,
    handed_out: list[list[dict[str, Any]]],
) -> None:
    alice_row = _shop(alice_tenant, receiver, secret, "a@example.com")
    charlie_row = _shop(charlie_tenant, receiver, secret, "c@example.com")

    assert services.deliveries_relay() == 2
    (task,) = handed_out
    assert sorted((group["schema_name"], group["ids"]) for group in task) == [
        (alice_tenant.schema_name, [alice_row]),
        (charlie_tenant.schema_name, [charlie_row]),
    ]
    assert services.deliveries_relay() == 0, "handed out rows carry a lease"

    assert deliver_due.apply(kwargs={"groups": task}).get() == {"delivered": 2}
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert statuses == {alice_row: DeliveryStatus.DELIVERED, charlie_row: DeliveryStatus.DELIVERED}
    # Each sign-up went to its own tenant's destination and nowhere else.
    assert sorted(request.path for request in receiver.requests) == ["/alice", "/charlie"]
    tallies = {t.tenant_id: t.delivered for t in DeliveryTally.objects.all()}
    assert tallies == {alice_tenant.pk: 1, charlie_tenant.pk: 1}


def test_a_task_holds_a_bounded_number_of_destinations(
    *,
    alice_tenant: Tenant,
    charlie_tenant: Tenant,
    receiver: FakeWebhookReceiver,
    secret: str,
    handed_out: list[list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("crm_sync.services.relay.RELAY_TASK_DESTINATIONS", 1)
    _shop(alice_tenant, receiver, secret, "a@example.com")
    _shop(charlie_tenant, receiver, secret, "c@example.com")
    assert services.deliveries_relay() == 2
    assert [len(task) for task in handed_out] == [1, 1]


def test_a_group_of_an_unknown_schema_is_skipped_and_the_others_are_sent(
    alice_tenant: Tenant, receiver: FakeWebhookReceiver, secret: str
) -> None:
    row = _shop(alice_tenant, receiver, secret, "a@example.com")
    groups = [
        {"schema_name": "public", "destination_id": 1, "ids": [row]},
        {"schema_name": "nobody", "destination_id": 1, "ids": [row]},
        {
            "schema_name": alice_tenant.schema_name,
            "destination_id": Delivery.objects.get(pk=row).destination_id,
            "ids": [row],
        },
    ]
    assert services.deliveries_send_groups(groups=groups) == {"delivered": 1}


class _CookieSetter(FakeServer):
    """Answers every request with a session cookie, and notes the cookies it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.cookies_seen: list[str] = []

    def handle(self, request: Request) -> Reply:
        self.cookies_seen.append(request.headers.get("cookie", ""))
        return Reply(200, {}, headers={"Set-Cookie": "session=tenant-a; Path=/"})


@pytest.fixture
def clean_clients() -> Iterator[None]:
    http.shared_clients_close()
    yield
    http.shared_clients_close()


@pytest.mark.usefixtures("clean_clients")
def test_the_shared_client_is_one_per_kind_and_keeps_no_cookie() -> None:
    webhook = http.shared_client(kind="webhook")
    assert http.shared_client(kind="webhook") is webhook
    assert http.shared_client(kind="hubspot") is not webhook
    assert webhook.timeout == httpx.Timeout(http.TIMEOUT_SECONDS, connect=5.0)
    with _CookieSetter() as crm:
        webhook.get(crm.url + "/a")
        webhook.get(crm.url + "/b")
    # One retailer's CRM session must not travel with the next retailer's request.
    assert crm.cookies_seen == ["", ""]
    assert len(webhook.cookies) == 0


@pytest.mark.usefixtures("clean_clients")
def test_closing_the_shared_clients_closes_their_connections() -> None:
    webhook = http.shared_client(kind="webhook")
    http.shared_clients_close()
    assert webhook.is_closed
    assert http.shared_client(kind="webhook") is not webhook
