"""URLs in the portal: read strictly when typed, stored normalised, never a 500 when tested.

``http://[::1/x``, ``http://a..b/x`` and ``http://127.000.000.001/`` used to pass the form; then
"Test connection" answered 500 and their deliveries looped. Now the form refuses them with a
coded error, and a destination that still holds one (saved before) gets a readable answer.
"""

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from crm_sync import services
from crm_sync.forms import KIND_FIELDS, DestinationForm
from crm_sync.models import Destination, DestinationState
from crm_sync.providers import PROVIDERS
from crm_sync.providers.webhook import secret_generate
from customerinfo.core.errors import ServiceError
from tenants.models import Tenant

from .factories import webhook_data, webhook_destination
from .support import reload

pytestmark = pytest.mark.django_db

#: The URLs of the issue, and what the form says about each.
UNREADABLE = [
    ("http://[::1/x", "invalid_host", "Write an IPv6 address in matching brackets"),
    ("http://a..b/x", "invalid_host", "The host name has an empty part"),
    ("http://127.000.000.001/", "ambiguous_ip_address", "four plain decimal numbers"),
]


@pytest.fixture
def destination(alice_tenant: Tenant) -> Iterator[Destination]:
    """Overrides conftest.py's: a webhook to hooks.example.com, made without a kiosk."""
    with tenant_context(alice_tenant):
        yield webhook_destination(url="https://hooks.example.com/in", name="Hook")


# --- typing a URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "code", "words"), UNREADABLE)
def test_a_url_that_cannot_be_read_is_a_form_error_not_a_500(
    owner: Client, alice_tenant: Tenant, url: str, code: str, words: str
) -> None:
    response = owner.post("/crm/new/webhook/", webhook_data(url))
    assert response.status_code == 400
    assert words in response.content.decode()
    with tenant_context(alice_tenant):
        assert not Destination.objects.exists()
        form = DestinationForm(webhook_data(url), kind="webhook")
        assert not form.is_valid()
        assert [error.code for error in form.errors.as_data()["url"]] == [code]


@pytest.mark.parametrize(
    ("kind", "data", "code"),
    [
        (
            "salesforce",
            {"login_url": "http://[::1/x", "client_id": "id", "client_secret": "s"},
            "invalid_host",
        ),
        (
            "hubspot",
            {"base_url": "https://api.hubapi.com/?portal=1", "access_token": "pat"},
            "query_not_allowed",
        ),
        (
            "mailchimp",
            {"base_url": "http://a..b", "list_id": "abc", "api_key": "0" * 32 + "-us1"},
            "invalid_host",
        ),
        (
            "klaviyo",
            {"base_url": "https://0x7f.1", "list_id": "abc", "api_key": "pk_x"},
            "ambiguous_ip_address",
        ),
    ],
)
def test_every_crms_url_is_read_the_same_way(
    owner: Client, alice_tenant: Tenant, kind: str, data: dict[str, str], code: str
) -> None:
    # A Salesforce login URL like the first used to raise ValueError in urlsplit: a 500.
    response = owner.post(f"/crm/new/{kind}/", {"name": kind, **data})
    assert response.status_code == 400
    (url_setting,) = PROVIDERS[kind].url_settings
    with tenant_context(alice_tenant):
        assert not Destination.objects.exists()
        form = DestinationForm({"name": kind, **data}, kind=kind)
        assert not form.is_valid()
        errors = form.errors.as_data()
        assert list(errors) == [url_setting]
        assert errors[url_setting][0].code == code


def test_every_url_a_retailer_types_is_declared_by_its_provider() -> None:
    """What the form and the service normalise is the provider's ``url_settings``."""
    for kind, provider in PROVIDERS.items():
        typed = {spec.name for spec in KIND_FIELDS[kind] if "url" in spec.name}
        assert set(provider.url_settings) == typed, kind


def test_a_typed_url_is_stored_in_its_normal_form(owner: Client, alice_tenant: Tenant) -> None:
    typed = "  HTTPS://Hooks.Example.COM:443/In?shop=1#top "
    response = owner.post("/crm/new/webhook/", webhook_data(typed, secret=secret_generate()))
    assert response.status_code == 302
    with tenant_context(alice_tenant):
        assert Destination.objects.get().settings == {"url": "https://hooks.example.com/In?shop=1"}


def test_a_private_address_is_refused_when_typed_in_production(
    owner: Client, alice_tenant: Tenant, settings: Any
) -> None:
    settings.CRM_BLOCK_PRIVATE_ADDRESSES = True
    response = owner.post("/crm/new/webhook/", webhook_data("http://169.254.169.254/latest/"))
    assert response.status_code == 400
    assert "CRM requests only go to public addresses" in response.content.decode()


# --- the service checks too (the form is not the only way in) -----------------------------------


@pytest.mark.usefixtures("in_alice")
def test_the_service_normalises_and_refuses_with_codes() -> None:
    destination = webhook_destination(url="HTTP://Example.com:80/hook")
    assert destination.settings == {"url": "http://example.com/hook"}
    for url, code, _ in UNREADABLE:
        with pytest.raises(ServiceError) as error:
            webhook_destination(url=url)
        assert error.value.fields["url"][0]["code"] == code
    with pytest.raises(ServiceError) as salesforce:
        services.destination_create(
            actor=None,
            name="SF",
            kind="salesforce",
            settings={"login_url": "http://[::1/x"},
            credentials={"client_id": "id", "client_secret": "secret"},
        )
    assert salesforce.value.fields["login_url"][0]["code"] == "invalid_host"
    with pytest.raises(ServiceError):
        services.destination_update(
            actor=None,
            destination=destination,
            name="Changed",
            settings={"url": "http://a..b/x"},
            credentials={},
            field_mapping={},
            forms=[],
            locations=[],
            enabled=True,
        )
    assert Destination.objects.get(pk=destination.pk).settings == destination.settings


# --- testing the connection --------------------------------------------------------------------


@pytest.mark.parametrize("blocking", [False, True])
@pytest.mark.parametrize("url", [url for url, _, _ in UNREADABLE])
def test_testing_a_stored_url_that_cannot_be_read_answers_in_words(
    *,
    owner: Client,
    alice_tenant: Tenant,
    destination: Destination,
    settings: Any,
    url: str,
    blocking: bool,
) -> None:
    """A row saved before URLs were checked: the answer says what is wrong, never a 500."""
    settings.CRM_BLOCK_PRIVATE_ADDRESSES = blocking
    with tenant_context(alice_tenant):
        Destination.objects.filter(pk=destination.pk).update(settings={"url": url})
    fragment = owner.post(f"/crm/{destination.pk}/test/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert "These settings or credentials do not work." in text
    assert "correct" in text.lower()
    response = owner.post(f"/crm/{destination.pk}/test/")
    assert response.status_code == 302
    page = owner.get(response["Location"]).content.decode()
    assert "These settings or credentials do not work." in page
    # A test is only a test: the destination is not paused by it.
    assert reload(alice_tenant, destination).state == DestinationState.ACTIVE


def test_testing_when_the_provider_itself_fails_answers_in_words(
    owner: Client, destination: Destination, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise KeyError("instance_url")

    monkeypatch.setattr(PROVIDERS["webhook"], "test_connection", broken)
    fragment = owner.post(f"/crm/{destination.pk}/test/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    text = fragment.content.decode()
    assert "Try again in a moment." in text
    assert "Unexpected error while testing the connection: KeyError" in text


def test_testing_with_credentials_no_key_can_read_answers_in_words(
    owner: Client, alice_tenant: Tenant, destination: Destination
) -> None:
    with tenant_context(alice_tenant):
        Destination.objects.filter(pk=destination.pk).update(credentials="gibberish")
    fragment = owner.post(f"/crm/{destination.pk}/test/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert "Type the credentials again" in fragment.content.decode()
