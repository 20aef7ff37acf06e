"""Who may open which CRM page: owners and managers get in, staff get a 403 that says why and
change nothing, anonymous visitors are sent to sign in, and charlie, owner of another retailer,
sees nothing of alice's.

Real HTTP to a webhook receiver on loopback, never a mock. Every test builds its data through the
services and then talks to the portal as alice (owner), bob (manager) or a staff member; the
shared fixtures (receiver, destination, owner, manager) are in conftest.py.
"""

from dataclasses import dataclass

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from crm_sync.models import Destination, DestinationState
from customerinfo.core.accounts.models import User
from customerinfo.core.models import AuditEntry
from outbox.models import Delivery, DeliveryStatus
from tenants.models import Tenant
from tests.conftest import host_of, login
from tests.signup.factories import Kiosk, staff_create

from .conftest import NAME
from .factories import deliveries_of, sign_up
from .fakes.webhook import FakeWebhookReceiver
from .support import reload

pytestmark = pytest.mark.django_db


@dataclass
class Ids:
    destination: int
    delivery: int
    submission: str


@pytest.fixture
def ids(alice_tenant: Tenant, kiosk: Kiosk, destination: Destination) -> Ids:
    with tenant_context(alice_tenant):
        submission = sign_up(kiosk, email="shopper-of-alice@example.com")
        (delivery,) = deliveries_of(submission)
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.DEAD, last_error="Alice secret error"
        )
    return Ids(destination=destination.pk, delivery=delivery.pk, submission=str(submission))


#: Every CRM page with the method that uses it, as (method, path template).
MANAGER_PAGES = [
    ("get", "/crm/"),
    ("get", "/crm/new/"),
    ("get", "/crm/new/webhook/"),
    ("post", "/crm/new/webhook/"),
    ("get", "/crm/{destination}/"),
    ("get", "/crm/{destination}/edit/"),
    ("post", "/crm/{destination}/edit/"),
    ("post", "/crm/{destination}/test/"),
    ("post", "/crm/{destination}/pause/"),
    ("post", "/crm/{destination}/resume/"),
    ("post", "/crm/{destination}/rotate-secret/"),
    ("post", "/crm/{destination}/replay/"),
    ("post", "/crm/deliveries/{delivery}/replay/"),
]
EVERYONE_PAGES = [("get", "/crm/signups/{submission}/")]


def _path(template: str, ids: Ids) -> str:
    return template.format(
        destination=ids.destination, delivery=ids.delivery, submission=ids.submission
    )


@pytest.mark.parametrize(("method", "template"), MANAGER_PAGES + EVERYONE_PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(
    alice_client: Client, ids: Ids, method: str, template: str
) -> None:
    response = getattr(alice_client, method)(_path(template, ids))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize(("method", "template"), MANAGER_PAGES)
def test_staff_get_the_forbidden_page_and_change_nothing(
    alice_client: Client, alice_tenant: Tenant, ids: Ids, method: str, template: str
) -> None:
    with tenant_context(alice_tenant):
        sam = staff_create()
    login(alice_client, alice_tenant, sam)
    response = getattr(alice_client, method)(_path(template, ids))
    assert response.status_code == 403
    assert "You cannot do this" in response.content.decode()
    assert "cannot manage CRM destinations" in response.content.decode() or (
        "cannot replay CRM deliveries" in response.content.decode()
    )
    with tenant_context(alice_tenant):
        assert Destination.objects.get().state == DestinationState.ACTIVE
        assert Delivery.objects.get(pk=ids.delivery).status == DeliveryStatus.DEAD
        assert not AuditEntry.objects.filter(action__startswith="destination.test").exists()


def test_staff_read_a_sign_ups_delivery_log_but_cannot_replay(
    alice_client: Client, alice_tenant: Tenant, ids: Ids
) -> None:
    with tenant_context(alice_tenant):
        sam = staff_create()
    login(alice_client, alice_tenant, sam)
    page = alice_client.get(f"/crm/signups/{ids.submission}/").content.decode()
    assert NAME in page
    assert "Alice secret error" in page
    assert "Send again" not in page
    # The nav only offers what the role may open.
    assert 'href="/crm/"' not in page


@pytest.mark.parametrize(("method", "template"), MANAGER_PAGES + EVERYONE_PAGES)
def test_owners_and_managers_get_in(
    owner: Client, manager: Client, ids: Ids, method: str, template: str
) -> None:
    for role, client in (("owner", owner), ("manager", manager)):
        response = getattr(client, method)(_path(template, ids))
        assert response.status_code not in (403, 404, 405, 500), (role, template)
        assert not response.get("Location", "").startswith("/login/")


def test_managers_see_the_crm_link(manager: Client) -> None:
    page = manager.get("/").content.decode()
    assert '<a href="/crm/">CRM</a>' in page


#: The edit and create pages show their form on GET; these only ever change something.
POST_ONLY = [
    path
    for method, path in MANAGER_PAGES
    if method == "post" and not path.endswith(("edit/", "webhook/"))
]


@pytest.mark.parametrize("template", POST_ONLY)
def test_state_changes_refuse_get(owner: Client, ids: Ids, template: str) -> None:
    assert owner.get(_path(template, ids)).status_code == 405


def test_state_changes_need_the_csrf_token(
    alice_tenant: Tenant, alice: User, destination: Destination
) -> None:
    client = Client(HTTP_HOST=host_of(alice_tenant), enforce_csrf_checks=True)
    login(client, alice_tenant, alice)
    assert client.post(f"/crm/{destination.pk}/pause/").status_code == 403
    assert reload(alice_tenant, destination).state == DestinationState.ACTIVE


# --- charlie sees nothing of alice's -----------------------------------------------------------


SECRETS = (NAME, "shopper-of-alice@example.com", "Alice secret error", "Store main")


@pytest.fixture
def charlie_signed_in(charlie_client: Client, charlie_tenant: Tenant, charlie: User) -> Client:
    login(charlie_client, charlie_tenant, charlie)
    return charlie_client


@pytest.mark.parametrize("path", ["/crm/", "/crm/new/", "/crm/new/webhook/", "/signups/"])
def test_charlies_pages_show_nothing_of_alices(
    charlie_signed_in: Client, ids: Ids, receiver: FakeWebhookReceiver, path: str
) -> None:
    response = charlie_signed_in.get(path)
    assert response.status_code == 200
    page = response.content.decode()
    for secret in (*SECRETS, receiver.url):
        assert secret not in page, (path, secret)


@pytest.mark.parametrize(
    ("method", "template"),
    [(method, path) for method, path in MANAGER_PAGES if "{" in path] + EVERYONE_PAGES,
)
def test_alices_ids_are_not_found_on_charlies_host(
    charlie_signed_in: Client, alice_tenant: Tenant, ids: Ids, method: str, template: str
) -> None:
    response = getattr(charlie_signed_in, method)(_path(template, ids))
    assert response.status_code == 404, template
    for secret in SECRETS:
        assert secret not in response.content.decode()
    with tenant_context(alice_tenant):
        # Deliveries live in the public schema: an id of alice's must not reach her rows.
        assert Delivery.objects.get(pk=ids.delivery).status == DeliveryStatus.DEAD
        assert Destination.objects.get(pk=ids.destination).state == DestinationState.ACTIVE
        assert (
            not AuditEntry.objects.filter(object_type="crm_sync.destination")
            .exclude(action="destination.create")
            .exists()
        )
