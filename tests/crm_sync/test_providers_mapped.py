"""Mapped answers in each vendor's own format, per provider, over real HTTP to the fakes.

The same sign-up goes to every CRM: a multiple choice, a checkbox, a choice with numeric options
mapped to a number, the sign-up date and the birthday (month and day). Each request is checked
against the vendor's published schema (``fakes/specs``), the fake checks each value against its
property's type, and what the CRM stores is what its own forms would store.
"""

from datetime import date
from typing import Any

import httpx

from crm_sync.providers.base import Contact, Verdict
from crm_sync.providers.hubspot import HubSpotProvider
from crm_sync.providers.klaviyo import KlaviyoProvider
from crm_sync.providers.mailchimp import MailchimpProvider
from crm_sync.providers.mapping import Birthday
from crm_sync.providers.webhook import WebhookProvider

from .fakes.hubspot import TOKEN, FakeHubSpot
from .fakes.klaviyo import API_KEY as KLAVIYO_KEY
from .fakes.klaviyo import LIST_ID as KLAVIYO_LIST
from .fakes.klaviyo import FakeKlaviyo
from .fakes.mailchimp import API_KEY as MAILCHIMP_KEY
from .fakes.mailchimp import LIST_ID as MAILCHIMP_LIST
from .fakes.mailchimp import FakeMailchimp
from .fakes.salesforce import FakeSalesforce
from .fakes.schemas import spec
from .fakes.webhook import FakeWebhookReceiver
from .support import provider as salesforce_provider
from .support import submission_id, upserts

#: One sign-up's mapped answers, as crm_sync.contacts types them.
ANSWERS: dict[str, Any] = {
    "interests": ["shoes", "bags"],
    "vip": True,
    "household": "3",
    "first_visit": date(2025, 3, 14),
    "birthday": Birthday(3, 7),
}


def signup(names: dict[str, str], key: int = 1) -> Contact:
    """The sign-up with ANSWERS under the CRM's property names (answer -> property)."""
    return Contact(
        key=key,
        submission_id=submission_id(key),
        email="ana@shop.test",
        last_name="Lima",
        properties={names[answer]: value for answer, value in ANSWERS.items()},
    )


def test_hubspot_writes_multi_selects_checkboxes_numbers_and_dates_as_hubspot_strings(
    http: httpx.Client,
) -> None:
    with FakeHubSpot() as hubspot:
        assert isinstance(hubspot, FakeHubSpot)
        hubspot.property_add("interests", "enumeration", "checkbox", "shoes", "bags", "hats")
        hubspot.property_add("vip", "bool", "booleancheckbox", "true", "false")
        hubspot.property_add("household_size", "number", "number")
        hubspot.property_add("first_visit", "date", "date")
        names = {
            "interests": "interests",
            "vip": "vip",
            "household": "household_size",
            "first_visit": "first_visit",
            "birthday": "date_of_birth",
        }
        provider = HubSpotProvider(
            settings={"base_url": hubspot.url, "property_types": {"household_size": "number"}},
            credentials={"access_token": TOKEN},
            client=http,
        )

        results = provider.send([signup(names)])

        assert results[1].verdict is Verdict.DELIVERED, results[1].message
        stored = hubspot.contact("ana@shop.test")
        assert {name: stored[name] for name in names.values()} == {
            "interests": "shoes;bags",
            "vip": "true",
            "household_size": "3",
            "first_visit": "2025-03-14",
            # HubSpot's date_of_birth is a single-line text property.
            "date_of_birth": "03-07",
        }
        (request,) = hubspot.requests
        operation = "POST /crm/v3/objects/contacts/batch/upsert"
        assert spec("hubspot").request_errors(operation, request.json()) == []


def test_salesforce_writes_multi_picklists_checkboxes_numbers_and_dates_in_json_types(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    org.field_add("Interests__c", "multipicklist", "shoes", "bags", "hats")
    org.field_add("Vip__c", "boolean")
    org.field_add("Household_Size__c", "double")
    org.field_add("First_Visit__c", "date")
    org.field_add("Birthday__c", "string", length=5)
    names = {
        "interests": "Interests__c",
        "vip": "Vip__c",
        "household": "Household_Size__c",
        "first_visit": "First_Visit__c",
        "birthday": "Birthday__c",
    }
    provider = salesforce_provider(
        org, http, property_types={"Household_Size__c": "number", "Birthday__c": "text"}
    )

    results = provider.send([signup(names)])

    assert results[1].verdict is Verdict.DELIVERED, results[1].message
    lead = org.lead(submission_id(1))
    assert {name: lead[name] for name in names.values()} == {
        "Interests__c": "shoes;bags",
        "Vip__c": True,
        "Household_Size__c": 3,
        "First_Visit__c": "2025-03-14",
        "Birthday__c": "03-07",
    }
    operation = "PATCH /services/data/{version}/composite/sobjects/Lead/{externalIdField}"
    assert spec("salesforce").request_errors(operation, upserts(org)[-1].json()) == []


def test_mailchimp_writes_its_merge_field_types_and_words_for_the_rest(
    http: httpx.Client,
) -> None:
    with FakeMailchimp() as mailchimp:
        assert isinstance(mailchimp, FakeMailchimp)
        mailchimp.merge_field_add("INTERESTS", "text")
        mailchimp.merge_field_add("VIP", "text")
        mailchimp.merge_field_add("HOUSEHOLD", "number")
        mailchimp.merge_field_add("FIRSTVISIT", "date", date_format="YYYY-MM-DD")
        names = {
            "interests": "INTERESTS",
            "vip": "VIP",
            "household": "HOUSEHOLD",
            "first_visit": "FIRSTVISIT",
            "birthday": "BIRTHDAY",
        }
        provider = MailchimpProvider(
            settings={
                "base_url": mailchimp.url,
                "list_id": MAILCHIMP_LIST,
                "property_types": {"HOUSEHOLD": "number"},
            },
            credentials={"api_key": MAILCHIMP_KEY},
            client=http,
        )

        results = provider.send([signup(names)])

        assert results[1].verdict is Verdict.DELIVERED, results[1].message
        fields = mailchimp.member_of("ana@shop.test")["merge_fields"]
        assert {name: fields[name] for name in names.values()} == {
            # No multi-select or checkbox merge field exists: the answers go as words.
            "INTERESTS": "shoes, bags",
            "VIP": "Yes",
            "HOUSEHOLD": 3,
            "FIRSTVISIT": "2025-03-14",
            "BIRTHDAY": "03/07",
        }
        (request,) = mailchimp.requests
        operation = "PUT /3.0/lists/{list_id}/members/{subscriber_hash}"
        assert spec("mailchimp").request_errors(operation, request.json()) == []


def test_klaviyo_keeps_lists_booleans_and_numbers_as_json(http: httpx.Client) -> None:
    with FakeKlaviyo() as klaviyo:
        assert isinstance(klaviyo, FakeKlaviyo)
        names = {answer: answer for answer in ANSWERS}
        provider = KlaviyoProvider(
            settings={
                "base_url": klaviyo.url,
                "list_id": KLAVIYO_LIST,
                "property_types": {"household": "number"},
            },
            credentials={"api_key": KLAVIYO_KEY},
            client=http,
        )

        results = provider.send([signup(names)])

        assert results[1].verdict is Verdict.DELIVERED, results[1].message
        properties = klaviyo.profile_of("ana@shop.test")["properties"]
        assert {name: properties[name] for name in names} == {
            "interests": ["shoes", "bags"],
            "vip": True,
            "household": 3,
            "first_visit": "2025-03-14",
            "birthday": "03-07",
        }
        (request,) = klaviyo.requests
        assert spec("klaviyo").request_errors("POST /api/profile-import", request.json()) == []


def test_the_webhook_sends_plain_json(http: httpx.Client, secret: str) -> None:
    with FakeWebhookReceiver(secrets=[secret]) as receiver:
        assert isinstance(receiver, FakeWebhookReceiver)
        provider = WebhookProvider(
            settings={"url": receiver.url, "property_types": {"household": "number"}},
            credentials={"secret": secret},
            client=http,
        )

        results = provider.send([signup({answer: answer for answer in ANSWERS})])

        assert results[1].verdict is Verdict.DELIVERED
        (event,) = receiver.events.values()
        assert event["data"]["properties"] == {
            "interests": ["shoes", "bags"],
            "vip": True,
            "household": 3,
            "first_visit": "2025-03-14",
            "birthday": "03-07",
        }
