"""CRM destinations in the portal: list, create, edit, test, pause and resume, secret rotation.

Real HTTP to a webhook receiver on loopback, never a mock. Every test builds its data through
the services and then talks to the portal as alice (owner), bob (manager) or a staff member;
charlie, owner of another retailer, must see nothing of alice's.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from crm_sync import limits
from crm_sync.crypto import credentials_decrypt
from crm_sync.forms import KIND_FIELDS, mapping_parse
from crm_sync.models import Destination, DestinationKind, DestinationState
from crm_sync.providers import PROVIDERS
from crm_sync.providers.webhook import secret_generate
from customerinfo.core.accounts.models import User
from customerinfo.core.models import AuditEntry
from outbox.models import Delivery, DeliveryStatus
from tenants.models import Tenant
from tests.conftest import host_of, login
from tests.signup.factories import Kiosk, kiosk_create
from tests.signup.test_portal_helpers import staff_user

from .factories import deliveries_of, sign_up, webhook_destination
from .fakes.server import Reply
from .fakes.webhook import FakeWebhookReceiver

pytestmark = pytest.mark.django_db

NAME = "Alice secret webhook"


@pytest.fixture
def secret() -> str:
    return secret_generate()


@pytest.fixture
def receiver(secret: str) -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(secrets=[secret]) as fake:
        yield fake


@pytest.fixture
def kiosk(alice_tenant: Tenant) -> Kiosk:
    with tenant_context(alice_tenant):
        return kiosk_create()


@pytest.fixture
def destination(
    alice_tenant: Tenant, kiosk: Kiosk, receiver: FakeWebhookReceiver, secret: str
) -> Destination:
    with tenant_context(alice_tenant):
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


def client_of(tenant: Tenant, user: User) -> Client:
    client = Client(HTTP_HOST=host_of(tenant))
    login(client, tenant, user)
    return client


@pytest.fixture
def owner(alice_tenant: Tenant, alice: User) -> Client:
    return client_of(alice_tenant, alice)


@pytest.fixture
def manager(alice_tenant: Tenant, bob: User) -> Client:
    return client_of(alice_tenant, bob)


def reload(tenant: Tenant, destination: Destination) -> Destination:
    """The destination as stored now (a request may have left the connection elsewhere)."""
    with tenant_context(tenant):
        return Destination.objects.get(pk=destination.pk)


def stored_credentials(tenant: Tenant, destination: Destination) -> dict[str, str]:
    return credentials_decrypt(reload(tenant, destination).credentials)


def webhook_post(url: str, **extra: str) -> dict[str, str]:
    data = {"name": "Shop hook", "url": url, "secret": "", "field_mapping": "", "enabled": "on"}
    data.update(extra)
    return data


# --- the kind table ----------------------------------------------------------------------------


def test_every_kind_of_crm_has_its_inputs_declared() -> None:
    assert set(KIND_FIELDS) == set(DestinationKind.values)


# Only installed providers can be chosen in the portal, so those are the ones that must match.
@pytest.mark.parametrize("kind", sorted(PROVIDERS))
def test_every_kind_declares_every_input_its_provider_asks_for(kind: str) -> None:
    names = {spec.name for spec in KIND_FIELDS[kind]}
    errors = PROVIDERS[kind].configuration_errors(settings={}, credentials={})
    # Each "required" error lands next to an input of that name, never at the top of the page.
    assert set(errors) <= names, set(errors) - names
    assert {spec.name for spec in KIND_FIELDS[kind] if spec.secret}, "a kind without a secret"


def test_the_mapping_text_reads_lines_and_says_what_is_wrong() -> None:
    known = ["email", "drink", "note"]
    text = "# comment\n\ndrink = favourite_drink\nnote=notes\n"
    assert mapping_parse(text, known=known) == (
        {"drink": "favourite_drink", "note": "notes"},
        [],
    )
    mapping, errors = mapping_parse(
        "drink favourite\n= x\ncolour = c\ndrink = a\ndrink2\nnote = " + "x" * 101, known=known
    )
    assert mapping == {"drink": "a"}
    assert errors == [
        "Line 1: write it as “form field = CRM property”.",
        "Line 2: both sides of “=” are needed.",
        "Line 3: “colour” is not a field of any of your forms.",
        "Line 5: write it as “form field = CRM property”.",
        "Line 6: the CRM property name is too long.",
    ]
    _, errors = mapping_parse("drink = a\ndrink = b", known=known)
    assert errors == ["Line 2: “drink” is already mapped above."]


# --- list --------------------------------------------------------------------------------------


def test_the_list_shows_each_destination_with_its_health(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    with tenant_context(alice_tenant):
        _, dead = deliveries_of(sign_up(kiosk)) + deliveries_of(sign_up(kiosk))
        Delivery.objects.filter(pk=dead.pk).update(status=DeliveryStatus.DEAD)
        scope = f"{alice_tenant.pk}:{destination.pk}"
        for _ in range(limits.BREAKER_THRESHOLD):
            limits.breaker_record(scope=scope, success=False)
    page = owner.get("/crm/").content.decode()
    assert 'href="/crm/" aria-current="page"' in page
    assert f'<a href="/crm/{destination.pk}/">{NAME}</a>' in page
    assert "Webhook (Standard Webhooks)" in page
    assert f'href="/crm/{destination.pk}/?status=dead"><strong>1</strong>' in page
    assert "under 1 min" in page  # the oldest pending sign-up's age
    assert "Open" in page  # the breaker


def test_an_empty_list_says_how_to_start(owner: Client) -> None:
    page = owner.get("/crm/").content.decode()
    assert "No CRM connected yet" in page
    assert 'href="/crm/new/"' in page


def test_a_paused_destination_is_shown_with_its_reason_and_what_to_do(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    with tenant_context(alice_tenant):
        sign_up(kiosk)
        from crm_sync import services

        services.destination_pause(destination=destination, reason="401: bad signature")
    for path in ("/crm/", f"/crm/{destination.pk}/"):
        page = owner.get(path).content.decode()
        assert f"Sign-ups to “{NAME}” are on hold" in page
        assert "401: bad signature" in page
        assert "1 sign-up is held" in page
        assert f'href="/crm/{destination.pk}/edit/"' in page
        assert "Press “Resume”" in page


# --- create ------------------------------------------------------------------------------------


def test_the_kind_page_offers_the_installed_crms(owner: Client) -> None:
    page = owner.get("/crm/new/").content.decode()
    assert 'href="/crm/new/webhook/"' in page
    for kind in DestinationKind.values:
        # A CRM whose provider is not installed cannot be chosen.
        assert (f'href="/crm/new/{kind}/"' in page) == (kind in PROVIDERS)
    response = owner.get("/crm/new/myspace/")
    assert response.status_code == 404
    assert "“myspace” is not a CRM we can connect" in response.content.decode()


def test_creating_a_webhook_generates_its_secret_and_shows_it_once(
    manager: Client, alice_tenant: Tenant, kiosk: Kiosk, receiver: FakeWebhookReceiver
) -> None:
    page = manager.get("/crm/new/webhook/").content.decode()
    assert 'name="url"' in page
    assert 'type="password" name="secret"' in page
    assert "drink" in page  # the form's own questions are listed for the mapping
    response = manager.post(
        "/crm/new/webhook/",
        webhook_post(
            receiver.url,
            field_mapping="drink = favourite_drink\r\nnote = notes",
            forms=str(kiosk.form.pk),
            locations=str(kiosk.location.pk),
        ),
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    with tenant_context(alice_tenant):
        destination = Destination.objects.get(name="Shop hook")
        secret = credentials_decrypt(destination.credentials)["secret"]
        assert destination.settings == {"url": receiver.url}
        assert destination.field_mapping == {"drink": "favourite_drink", "note": "notes"}
        assert list(destination.forms.all()) == [kiosk.form]
        assert list(destination.locations.all()) == [kiosk.location]
        assert destination.enabled
        assert AuditEntry.objects.filter(action="destination.create").count() == 1
    assert secret.startswith("whsec_")
    assert secret in response.content.decode()
    assert "shown only on this page" in response.content.decode()
    # Never again: not on its page, not in its edit form.
    for path in (f"/crm/{destination.pk}/", f"/crm/{destination.pk}/edit/"):
        assert secret not in manager.get(path).content.decode()


def test_creating_with_a_chosen_secret_goes_straight_to_its_page(
    owner: Client, alice_tenant: Tenant, receiver: FakeWebhookReceiver, secret: str
) -> None:
    response = owner.post("/crm/new/webhook/", webhook_post(receiver.url, secret=secret))
    with tenant_context(alice_tenant):
        destination = Destination.objects.get(name="Shop hook")
    assert response.status_code == 302
    assert response["Location"] == f"/crm/{destination.pk}/"
    assert stored_credentials(alice_tenant, destination)["secret"] == secret


def test_bad_input_on_create_is_explained_and_nothing_is_saved(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    response = owner.post(
        "/crm/new/webhook/",
        webhook_post("ftp://example.com", secret="not-a-secret"),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved." in page
    assert "Give an http:// or https:// URL." in page
    # The typed secret is not echoed back into the page.
    assert "not-a-secret" not in page
    response = owner.post(
        "/crm/new/webhook/", webhook_post("https://example.com", secret="not-a-secret")
    )
    assert response.status_code == 400
    assert "A whsec_ secret of at least 16 bytes." in response.content.decode()
    response = owner.post(
        "/crm/new/webhook/",
        webhook_post("https://example.com", field_mapping="drink\ncolour = c"),
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Line 1: write it as “form field = CRM property”." in page
    assert "Line 2: “colour” is not a field of any of your forms." in page
    assert 'value="https://example.com"' in page  # what was typed stays
    response = owner.post("/crm/new/webhook/", webhook_post(""))
    assert "This is required." in response.content.decode()
    response = owner.post("/crm/new/webhook/", webhook_post("https://example.com", name=" "))
    assert "This field is required." in response.content.decode()
    with tenant_context(alice_tenant):
        assert not Destination.objects.exists()


def test_other_crms_use_their_own_inputs(
    owner: Client, alice_tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HubSpot's provider is written beside this page; register it for this test only.
    from crm_sync.providers.hubspot import HubSpotProvider

    monkeypatch.setitem(PROVIDERS, "hubspot", HubSpotProvider)
    page = owner.get("/crm/new/hubspot/").content.decode()
    assert 'name="base_url"' in page
    assert 'type="password" name="access_token"' in page
    assert 'name="url"' not in page
    response = owner.post(
        "/crm/new/hubspot/", {"name": "HubSpot", "base_url": "", "access_token": ""}
    )
    assert response.status_code == 400
    assert "This is required." in response.content.decode()
    response = owner.post(
        "/crm/new/hubspot/",
        {"name": "HubSpot", "base_url": "", "access_token": "pat-eu1-token", "enabled": "on"},
    )
    assert response.status_code == 302
    with tenant_context(alice_tenant):
        destination = Destination.objects.get(kind="hubspot")
    assert destination.settings == {"base_url": ""}
    assert stored_credentials(alice_tenant, destination) == {"access_token": "pat-eu1-token"}
    # Only webhooks have a signing secret to rotate; the page says so, nothing changes.
    page = owner.post(f"/crm/{destination.pk}/rotate-secret/", follow=True).content.decode()
    assert "Only webhook destinations have a signing secret." in page
    assert (
        'type="password" name="access_token"'
        in owner.get(f"/crm/{destination.pk}/edit/").content.decode()
    )
    assert "Rotate signing secret" not in owner.get(f"/crm/{destination.pk}/").content.decode()


# --- edit --------------------------------------------------------------------------------------


def test_editing_keeps_secrets_unless_replaced_and_keeps_unshown_settings(
    owner: Client, shop: Shop
) -> None:
    alice_tenant, destination, secret, receiver = (
        shop.tenant,
        shop.destination,
        shop.secret,
        shop.receiver,
    )
    with tenant_context(alice_tenant):
        # A setting this form does not show (written by another tool) must survive an edit.
        Destination.objects.filter(pk=destination.pk).update(
            settings={"url": receiver.url + "/hooks", "extra": "kept"},
            field_mapping={"drink": "favourite_drink"},
        )
    page = owner.get(f"/crm/{destination.pk}/edit/").content.decode()
    assert f'value="{NAME}"' in page
    assert "drink = favourite_drink" in page
    assert secret not in page
    assert "Leave empty to keep it" in page
    response = owner.post(
        f"/crm/{destination.pk}/edit/",
        webhook_post(receiver.url + "/v2", name="Renamed", field_mapping="note = notes"),
    )
    assert response.status_code == 302
    saved = reload(alice_tenant, destination)
    assert saved.name == "Renamed"
    assert saved.settings == {"url": receiver.url + "/v2", "extra": "kept"}
    assert saved.field_mapping == {"note": "notes"}
    assert credentials_decrypt(saved.credentials)["secret"] == secret
    replacement = secret_generate()
    owner.post(
        f"/crm/{destination.pk}/edit/", webhook_post(receiver.url, name="R", secret=replacement)
    )
    assert stored_credentials(alice_tenant, destination)["secret"] == replacement
    with tenant_context(alice_tenant):
        changes = AuditEntry.objects.filter(action="destination.update").order_by("created_at")
        assert [(entry.new or {}).get("credentials") for entry in changes] == [None, "changed"]


def test_bad_input_on_edit_changes_nothing(
    owner: Client, alice_tenant: Tenant, destination: Destination
) -> None:
    before = reload(alice_tenant, destination)
    response = owner.post(
        f"/crm/{destination.pk}/edit/",
        webhook_post("not a url", name="Changed", field_mapping="email ="),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Line 1: both sides of “=” are needed." in page
    response = owner.post(f"/crm/{destination.pk}/edit/", webhook_post("not a url"))
    assert "Give an http:// or https:// URL." in response.content.decode()
    after = reload(alice_tenant, destination)
    assert (after.name, after.settings, after.credentials) == (
        before.name,
        before.settings,
        before.credentials,
    )


def test_disabling_takes_effect_and_is_shown(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    post = webhook_post(destination.settings["url"], name=NAME)
    del post["enabled"]
    owner.post(f"/crm/{destination.pk}/edit/", post)
    assert reload(alice_tenant, destination).enabled is False
    assert (
        "Disabled: new sign-ups are not sent to it"
        in owner.get(f"/crm/{destination.pk}/").content.decode()
    )
    with tenant_context(alice_tenant):
        assert deliveries_of(sign_up(kiosk)) == []


# --- test connection ---------------------------------------------------------------------------


def test_test_connection_inline_says_it_works(
    owner: Client, alice_tenant: Tenant, destination: Destination, receiver: FakeWebhookReceiver
) -> None:
    page = owner.get(f"/crm/{destination.pk}/").content.decode()
    assert f'hx-post="/crm/{destination.pk}/test/"' in page
    response = owner.post(f"/crm/{destination.pk}/test/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.startswith('<div id="test-result"')  # only the verdict, no page around it
    assert "The connection works." in fragment
    assert "The CRM answered <strong>204</strong>" in fragment
    assert receiver.received == 1
    with tenant_context(alice_tenant):
        entry = AuditEntry.objects.get(action="destination.test")
        assert entry.new == {"verdict": "delivered", "status_code": 204}


def test_test_connection_shows_a_refusal_with_its_status_and_message(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, receiver: FakeWebhookReceiver
) -> None:
    with tenant_context(alice_tenant):
        # Signed with a secret the receiver does not know: it answers 401.
        destination = webhook_destination(url=receiver.url + "/hooks", name=NAME)
    fragment = owner.post(f"/crm/{destination.pk}/test/", HTTP_HX_REQUEST="true")
    text = fragment.content.decode()
    assert "These settings or credentials do not work." in text
    assert "<strong>401</strong>" in text
    assert "bad signature" in text
    # Without HTMX the same verdict comes back as a message on the destination's page.
    response = owner.post(f"/crm/{destination.pk}/test/")
    assert response["Location"] == f"/crm/{destination.pk}/"
    page = owner.get(response["Location"]).content.decode()
    assert "These settings or credentials do not work. Status 401." in page
    # A test is only a test: it neither pauses the destination nor touches deliveries.
    assert reload(alice_tenant, destination).state == DestinationState.ACTIVE


# --- pause, resume, rotate ---------------------------------------------------------------------


def test_pause_holds_and_resume_says_how_many_are_replayed(
    manager: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    with tenant_context(alice_tenant):
        first, second = deliveries_of(sign_up(kiosk)) + deliveries_of(sign_up(kiosk))
    response = manager.post(
        f"/crm/{destination.pk}/pause/", {"reason": "CRM maintenance tonight"}, follow=True
    )
    page = response.content.decode()
    assert "is paused. New sign-ups are kept and held until you resume." in page
    assert "CRM maintenance tonight" in page
    assert "Resume and resend 2 held sign-ups" in page
    paused = reload(alice_tenant, destination)
    assert (paused.state, paused.paused_reason) == ("paused", "CRM maintenance tonight")
    with tenant_context(alice_tenant):
        assert {row.status for row in Delivery.objects.filter(pk__in=[first.pk, second.pk])} == {
            DeliveryStatus.HELD
        }
    # Pausing again changes nothing and says so.
    page = manager.post(f"/crm/{destination.pk}/pause/", follow=True).content.decode()
    assert "is already paused" in page
    page = manager.post(f"/crm/{destination.pk}/resume/", follow=True).content.decode()
    assert "is active again. 2 held deliveries will be sent again, gradually." in page
    assert reload(alice_tenant, destination).state == DestinationState.ACTIVE
    with tenant_context(alice_tenant):
        assert {row.status for row in Delivery.objects.filter(pk__in=[first.pk, second.pk])} == {
            DeliveryStatus.PENDING
        }
        assert AuditEntry.objects.filter(action="destination.resume").count() == 1
    page = manager.post(f"/crm/{destination.pk}/resume/", follow=True).content.decode()
    assert "is not paused" in page


def test_pause_without_a_reason_names_who_paused(
    owner: Client, alice_tenant: Tenant, destination: Destination
) -> None:
    owner.post(f"/crm/{destination.pk}/pause/", {"reason": ""})
    assert reload(alice_tenant, destination).paused_reason == "Paused by alice@alice.example."
    # A reason too long for the form falls back the same way instead of failing.
    owner.post(f"/crm/{destination.pk}/resume/")
    owner.post(f"/crm/{destination.pk}/pause/", {"reason": "x" * 600})
    assert reload(alice_tenant, destination).paused_reason == "Paused by alice@alice.example."


def test_rotating_the_secret_shows_the_new_one_once_and_keeps_the_old_one_signing(
    owner: Client,
    alice_tenant: Tenant,
    destination: Destination,
    secret: str,
    receiver: FakeWebhookReceiver,
) -> None:
    response = owner.post(f"/crm/{destination.pk}/rotate-secret/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    credentials = stored_credentials(alice_tenant, destination)
    new = credentials["secret"]
    assert new != secret
    assert credentials["previous_secret"] == secret
    page = response.content.decode()
    assert new in page
    assert "keeps signing beside this one for 24 hours" in page
    assert new not in owner.get(f"/crm/{destination.pk}/").content.decode()
    # The receiver still knows only the old secret, and still accepts the test.
    fragment = owner.post(f"/crm/{destination.pk}/test/", HTTP_HX_REQUEST="true")
    assert "The connection works." in fragment.content.decode()


# --- who may do what ---------------------------------------------------------------------------


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
    login(alice_client, alice_tenant, staff_user(alice_tenant))
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
    login(alice_client, alice_tenant, staff_user(alice_tenant))
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


# --- a sign-up's delivery log ------------------------------------------------------------------


def _send(delivery: Delivery) -> None:
    from crm_sync import services

    services.deliveries_send(destination_id=delivery.destination_id, ids=[delivery.pk])


def test_the_delivery_log_shows_each_attempt_and_its_status_code(
    owner: Client,
    alice_tenant: Tenant,
    kiosk: Kiosk,
    destination: Destination,
    receiver: FakeWebhookReceiver,
) -> None:
    with tenant_context(alice_tenant):
        submission = sign_up(kiosk, email="ann@example.com")
        (delivery,) = deliveries_of(submission)
        receiver.force(Reply(503, {"error": "busy, try later"}))
        _send(delivery)
    page = owner.get(f"/crm/signups/{submission}/").content.decode()
    assert "Delivery log of ann@example.com" in page
    assert NAME in page
    assert "<td>503</td>" in page
    assert "busy, try later" in page
    assert "Will retry" in page
    assert "Next attempt" in page  # still pending: when the next try is due
    with tenant_context(alice_tenant):
        _send(delivery)  # the receiver accepts this one
    page = owner.get(f"/crm/signups/{submission}/").content.decode()
    assert "<td>1</td>" in page  # attempt 1 ...
    assert "<td>2</td>" in page  # ... and attempt 2
    assert "<td>204</td>" in page
    assert "Delivered" in page
    assert "Next attempt" not in page
    assert "Send again" not in page  # a delivered sign-up has nothing to replay


def test_the_sign_ups_list_links_to_each_delivery_log(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    with tenant_context(alice_tenant):
        submission = sign_up(kiosk, email="bea@example.com")
    page = owner.get("/signups/").content.decode()
    assert f'href="/crm/signups/{submission}/"' in page
    # Without any destination the log says why nothing was sent.
    page = owner.get(f"/crm/signups/{submission}/").content.decode()
    assert "was not sent to any CRM" in page


def test_a_dead_delivery_is_sent_again_from_its_log(
    owner: Client,
    alice_tenant: Tenant,
    kiosk: Kiosk,
    destination: Destination,
    receiver: FakeWebhookReceiver,
) -> None:
    with tenant_context(alice_tenant):
        submission = sign_up(kiosk)
        (delivery,) = deliveries_of(submission)
        receiver.force(Reply(422, {"error": "email not allowed"}))
        _send(delivery)
    page = owner.get(f"/crm/signups/{submission}/").content.decode()
    assert "<td>422</td>" in page
    assert "Refused for good" in page
    assert f'action="/crm/deliveries/{delivery.pk}/replay/"' in page
    response = owner.post(f"/crm/deliveries/{delivery.pk}/replay/", {"back": "submission"})
    assert response["Location"] == f"/crm/signups/{submission}/"
    page = owner.get(response["Location"]).content.decode()
    assert f"The sign-up will be sent to “{NAME}” again." in page
    with tenant_context(alice_tenant):
        again = Delivery.objects.get(pk=delivery.pk)
        assert (again.status, again.attempts) == (DeliveryStatus.PENDING, 0)
    # A pending delivery is not replayed twice; back to the destination by default.
    response = owner.post(f"/crm/deliveries/{delivery.pk}/replay/", follow=True)
    assert response.redirect_chain[-1][0] == f"/crm/{destination.pk}/"
    assert "neither dead nor held: nothing to replay" in response.content.decode()


def test_an_unknown_sign_up_or_delivery_is_not_found(
    owner: Client, destination: Destination
) -> None:
    assert owner.get("/crm/signups/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert owner.get("/crm/signups/not-a-uuid/").status_code == 404
    assert owner.post("/crm/deliveries/999999999/replay/").status_code == 404
    assert owner.get("/crm/999999999/").status_code == 404


# --- the destination's deliveries and replay ---------------------------------------------------


def _dead_at(tenant: Tenant, kiosk: Kiosk, *moments: datetime) -> list[int]:
    """Dead deliveries of sign-ups received at ``moments`` (UTC)."""
    ids = []
    with tenant_context(tenant):
        for moment in moments:
            (delivery,) = deliveries_of(sign_up(kiosk))
            Delivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.DEAD,
                created_at=moment,
                attempts=11,
                last_status_code=500,
                last_error="Gave up after 11 attempts.",
            )
            ids.append(delivery.pk)
    return ids


def test_the_destination_page_lists_its_deliveries_by_status(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    (dead,) = _dead_at(alice_tenant, kiosk, datetime(2025, 3, 1, 8, 30, tzinfo=UTC))
    with tenant_context(alice_tenant):
        deliveries_of(sign_up(kiosk, email="pending@example.com"))
    page = owner.get(f"/crm/{destination.pk}/").content.decode()
    assert "Received (Europe/Paris)" in page
    assert "2025-03-01 09:30" in page  # 08:30 UTC shown in the stores' zone
    assert "pending@example.com" in page
    assert "Gave up after 11 attempts." in page
    assert "<td>500</td>" in page
    page = owner.get(f"/crm/{destination.pk}/", {"status": "dead"}).content.decode()
    assert "pending@example.com" not in page
    assert f'action="/crm/deliveries/{dead}/replay/"' in page
    page = owner.get(f"/crm/{destination.pk}/", {"status": "nonsense"}).content.decode()
    assert "pending@example.com" in page  # an unknown filter shows everything


def test_replaying_a_range_reads_it_in_the_stores_time_zone(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    early, late = _dead_at(
        alice_tenant,
        kiosk,
        datetime(2025, 3, 1, 8, 30, tzinfo=UTC),  # 09:30 in Paris
        datetime(2025, 3, 1, 10, 30, tzinfo=UTC),  # 11:30 in Paris
    )
    page = owner.get(f"/crm/{destination.pk}/").content.decode()
    assert "Times are in <strong>Europe/Paris (the time zone of your stores)</strong>" in page
    response = owner.post(
        f"/crm/{destination.pk}/replay/",
        {"since": "2025-03-01T09:00", "until": "2025-03-01T10:00"},
        follow=True,
    )
    page = response.content.decode()
    assert "1 dead or held delivery from 2025-03-01 09:00 to 2025-03-01 10:00 will be sent" in page
    with tenant_context(alice_tenant):
        statuses = dict(Delivery.objects.filter(pk__in=[early, late]).values_list("pk", "status"))
        assert statuses == {early: DeliveryStatus.PENDING, late: DeliveryStatus.DEAD}
        entry = AuditEntry.objects.get(action="delivery.replay")
        # The same instant as 08:00 UTC: 09:00 was read in Paris, not in UTC.
        since = datetime.fromisoformat((entry.new or {})["since"])
        assert since == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def test_a_second_replay_right_away_shows_the_throttle_message(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    (dead,) = _dead_at(alice_tenant, kiosk, datetime(2025, 3, 1, 8, 30, tzinfo=UTC))
    page = owner.post(f"/crm/{destination.pk}/replay/", {}, follow=True).content.decode()
    assert "1 dead or held delivery will be sent again" in page
    with tenant_context(alice_tenant):
        Delivery.objects.filter(pk=dead).update(status=DeliveryStatus.DEAD)
    response = owner.post(
        f"/crm/{destination.pk}/replay/", {"since": "2025-03-01T00:00", "until": ""}
    )
    assert response.status_code == 429
    page = response.content.decode()
    assert "A replay of this destination started less than 30 s ago; wait a moment." in page
    assert 'value="2025-03-01T00:00"' in page  # what was typed is kept for the retry
    with tenant_context(alice_tenant):
        assert Delivery.objects.get(pk=dead).status == DeliveryStatus.DEAD


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"since": "2025-03-02T00:00", "until": "2025-03-01T00:00"}, "must be later than"),
        ({"since": "yesterday"}, "Enter a valid date/time."),
        # 02:30 does not exist in Paris on the night clocks go forward.
        ({"since": "2025-03-30T02:30"}, "be interpreted in time zone Europe/Paris"),
    ],
)
def test_a_bad_replay_range_is_explained_and_replays_nothing(
    owner: Client, shop: Shop, data: dict[str, str], error: str
) -> None:
    (dead,) = _dead_at(shop.tenant, shop.kiosk, datetime(2025, 3, 1, 8, 30, tzinfo=UTC))
    response = owner.post(f"/crm/{shop.destination.pk}/replay/", data)
    assert response.status_code == 400
    assert error in response.content.decode()
    with tenant_context(shop.tenant):
        assert Delivery.objects.get(pk=dead).status == DeliveryStatus.DEAD


def test_stores_in_several_zones_make_the_range_utc(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk, destination: Destination
) -> None:
    with tenant_context(alice_tenant):
        from signup.services import location_create

        location_create(
            actor=None, name="NYC", code="nyc", country="US", time_zone="America/New_York"
        )
    page = owner.get(f"/crm/{destination.pk}/").content.decode()
    assert "UTC (your stores are in different time zones)" in page
    # A destination limited to the Paris store reads times in Paris again.
    with tenant_context(alice_tenant):
        Destination.objects.get(pk=destination.pk).locations.set([kiosk.location])
    page = owner.get(f"/crm/{destination.pk}/").content.decode()
    assert "Europe/Paris (the time zone of your stores)" in page


def test_a_destination_whose_provider_is_not_installed_is_shown_but_never_called(
    owner: Client, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As after a rollback to a release without this CRM: its rows stay, its code is gone.
    monkeypatch.delitem(PROVIDERS, "webhook")
    pk = shop.destination.pk
    page = owner.get(f"/crm/{pk}/").content.decode()
    assert "is not available yet: nothing is sent to it" in page
    with tenant_context(shop.tenant):
        from crm_sync import services

        services.destination_pause(destination=shop.destination, reason="gone")
    for action in ("test", "replay", "resume"):
        response = owner.post(f"/crm/{pk}/{action}/", follow=True)
        assert response.status_code == 200, action
        assert "destinations are not available yet." in response.content.decode()
    assert shop.receiver.requests == []
    assert reload(shop.tenant, shop.destination).state == DestinationState.PAUSED
