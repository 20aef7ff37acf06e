"""CRM destinations in the portal: what each kind of CRM asks for, creating and editing one.

Real HTTP to a webhook receiver on loopback, never a mock. Every test builds its data through the
services and then talks to the portal as alice (owner), bob (manager) or a staff member; the
shared fixtures (receiver, destination, owner, manager) are in conftest.py.
"""

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from crm_sync.crypto import credentials_decrypt
from crm_sync.forms import KIND_FIELDS
from crm_sync.mapping_text import mapping_parse
from crm_sync.models import Destination, DestinationKind
from crm_sync.providers import PROVIDERS
from crm_sync.providers.webhook import secret_generate
from customerinfo.core.models import AuditEntry
from tenants.models import Tenant
from tests.signup.factories import Kiosk

from .conftest import NAME, Shop
from .factories import deliveries_of, sign_up, webhook_data
from .fakes.webhook import FakeWebhookReceiver
from .support import reload, stored_credentials

pytestmark = pytest.mark.django_db


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
        webhook_data(
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
    response = owner.post("/crm/new/webhook/", webhook_data(receiver.url, secret=secret))
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
        webhook_data("ftp://example.com", secret="not-a-secret"),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was saved." in page
    assert "Give an http:// or https:// URL." in page
    # The typed secret is not echoed back into the page.
    assert "not-a-secret" not in page
    response = owner.post(
        "/crm/new/webhook/", webhook_data("https://example.com", secret="not-a-secret")
    )
    assert response.status_code == 400
    assert "A whsec_ secret of 24 to 64 random bytes" in response.content.decode()
    response = owner.post(
        "/crm/new/webhook/",
        webhook_data("https://example.com", field_mapping="drink\ncolour = c"),
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Line 1: write it as “form field = CRM property”." in page
    assert "Line 2: “colour” is not a field of any of your forms." in page
    assert 'value="https://example.com"' in page  # what was typed stays
    response = owner.post("/crm/new/webhook/", webhook_data(""))
    assert "This is required." in response.content.decode()
    response = owner.post("/crm/new/webhook/", webhook_data("https://example.com", name=" "))
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
        webhook_data(receiver.url + "/v2", name="Renamed", field_mapping="note = notes"),
    )
    assert response.status_code == 302
    saved = reload(alice_tenant, destination)
    assert saved.name == "Renamed"
    assert saved.settings == {"url": receiver.url + "/v2", "extra": "kept"}
    assert saved.field_mapping == {"note": "notes"}
    assert credentials_decrypt(saved.credentials)["secret"] == secret
    replacement = secret_generate()
    owner.post(
        f"/crm/{destination.pk}/edit/", webhook_data(receiver.url, name="R", secret=replacement)
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
        webhook_data("not a url", name="Changed", field_mapping="email ="),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Line 1: both sides of “=” are needed." in page
    response = owner.post(f"/crm/{destination.pk}/edit/", webhook_data("not a url"))
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
    post = webhook_data(destination.settings["url"], name=NAME)
    del post["enabled"]
    owner.post(f"/crm/{destination.pk}/edit/", post)
    assert reload(alice_tenant, destination).enabled is False
    assert (
        "Disabled: new sign-ups are not sent to it"
        in owner.get(f"/crm/{destination.pk}/").content.decode()
    )
    with tenant_context(alice_tenant):
        assert deliveries_of(sign_up(kiosk)) == []
