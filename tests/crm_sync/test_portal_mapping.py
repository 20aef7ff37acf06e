"""The mapping screen checks each mapping against the CRM's property types before saving: a
mapping the CRM could not take is refused with the reason, and declared types are kept."""

import html
from collections.abc import Callable

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from crm_sync.mapping_text import mapping_parse_typed
from crm_sync.models import Destination
from tenants.models import Tenant
from tests.signup.factories import Kiosk

pytestmark = pytest.mark.django_db


def hubspot_data(field_mapping: str) -> dict[str, str]:
    return {
        "name": "HubSpot",
        "base_url": "",
        "access_token": "pat-na1-token",
        "field_mapping": field_mapping,
        "enabled": "on",
    }


def mailchimp_data(field_mapping: str) -> dict[str, str]:
    return {
        "name": "Mailchimp",
        "list_id": "a1b2c3d4e5",
        "api_key": "0123456789abcdef0123456789abcdef-us21",
        "field_mapping": field_mapping,
        "enabled": "on",
    }


def salesforce_data(field_mapping: str) -> dict[str, str]:
    return {
        "name": "Salesforce",
        "login_url": "https://shop.my.salesforce.com",
        "client_id": "id",
        "client_secret": "secret",
        "field_mapping": field_mapping,
        "enabled": "on",
    }


def refusal(response_content: bytes) -> str:
    return html.unescape(response_content.decode())


def test_a_typed_mapping_is_saved_with_its_declared_types(
    owner: Client, alice_tenant: Tenant, kiosk: Kiosk
) -> None:
    mapping = (
        "drinks = interests (multi-select)\n"
        "vip = vip\n"
        "birthday = date_of_birth\n"
        "signup-date = first_visit (date)"
    )

    response = owner.post("/crm/new/hubspot/", hubspot_data(mapping))

    assert response.status_code == 302, refusal(response.content)
    with tenant_context(alice_tenant):
        destination = Destination.objects.get(name="HubSpot")
    assert destination.field_mapping == {
        "drinks": "interests",
        "vip": "vip",
        "birthday": "date_of_birth",
        "signup-date": "first_visit",
    }
    assert destination.settings["property_types"] == {
        "interests": "multi-select",
        "first_visit": "date",
    }
    # Shown back as typed, so saving again keeps the types.
    page = owner.get(f"/crm/{destination.pk}/edit/").content.decode()
    assert "drinks = interests (multi-select)" in html.unescape(page)


DATA: dict[str, Callable[[str], dict[str, str]]] = {
    "hubspot": hubspot_data,
    "mailchimp": mailchimp_data,
    "salesforce": salesforce_data,
}


@pytest.mark.usefixtures("kiosk")
@pytest.mark.parametrize(
    ("kind", "line", "reason"),
    [
        (
            "mailchimp",
            "vip = VIP (boolean)",
            "Mailchimp merge fields hold no checkbox: map it to a text field (written Yes or No).",
        ),
        (
            "mailchimp",
            "drinks = DRINKS (multi-select)",
            "Mailchimp merge fields hold no multi-select",
        ),
        (
            "mailchimp",
            "note = ADDRESS",
            "Mailchimp's ADDRESS needs street, city, state and zip together.",
        ),
        (
            "salesforce",
            "birthday = Birthday__c (date)",
            "“birthday” is a birthday (month and day, no year); a date property cannot take it.",
        ),
        (
            "salesforce",
            "drink = Household__c (number)",
            "“drink” has options that are not numbers: tea, coffee.",
        ),
        (
            "hubspot",
            "note = email",
            "“email” is written by CustomerInfo itself; choose another property.",
        ),
        (
            "hubspot",
            "vip = hs_language",
            "“vip” is a checkbox; an enumeration property cannot take it.",
        ),
        (
            "hubspot",
            "birthday = birthdate (birthday)",
            "HubSpot dates need a year: map the birthday to a text property (written MM-DD).",
        ),
    ],
)
def test_a_mapping_the_crm_cannot_take_is_refused_with_the_reason(
    owner: Client, alice_tenant: Tenant, kind: str, line: str, reason: str
) -> None:
    response = owner.post(f"/crm/new/{kind}/", DATA[kind](line))

    assert response.status_code == 400
    assert reason in refusal(response.content)
    with tenant_context(alice_tenant):
        assert not Destination.objects.exists()


def test_a_parenthesis_that_names_no_type_is_part_of_the_name() -> None:
    mapping, types, errors = mapping_parse_typed(
        "note = Favourite drink (hot)\ndrinks = Interests (multi-select)",
        known=["note", "drinks"],
    )

    assert errors == []
    assert mapping == {"note": "Favourite drink (hot)", "drinks": "Interests"}
    assert types == {"Interests": "multi-select"}
