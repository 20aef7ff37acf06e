"""The Salesforce provider against a fake org speaking real HTTP on loopback: leads written,
one per sign-up, with their consents; the destination's settings and its connection test.

What goes wrong on the way (limits, errors, tokens) is in test_providers_salesforce_failures.py.
"""

import httpx

from crm_sync.providers.base import Result, Verdict
from crm_sync.providers.salesforce import SalesforceProvider
from crm_sync.providers.salesforce_leads import consent_field_names
from customerinfo.core.redis import redis_client
from tests.crm_sync.fakes.salesforce import CLIENT_ID, CLIENT_SECRET, FakeSalesforce

from .support import (
    EMAIL_WORDING,
    SMS_WORDING,
    consent,
    contact,
    provider,
    submission_id,
    upserts,
    verdicts,
)


def test_upsert_writes_leads_keyed_by_submission_id(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    contacts = [
        contact(
            1,
            "ada@example.com",
            first_name="Ada",
            phone="+44 20 7946 0000",
            postal_code="W1A 1AA",
            location_name="Oxford Street",
            properties={"LeadSource": "In-store sign-up"},
        ),
        contact(2, "grace@example.com", first_name="Grace", last_name="Hopper"),
    ]

    results = provider(org, http, default_company="Alice's Shop").send(contacts)

    assert verdicts(results) == {1: Verdict.DELIVERED, 2: Verdict.DELIVERED}
    assert results[1].message == "created"
    lead = org.lead(submission_id(1))
    assert lead == {
        "Id": lead["Id"],
        "CustomerInfo_Id__c": submission_id(1),
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Company": "Alice's Shop",
        "Email": "ada@example.com",
        "Phone": "+44 20 7946 0000",
        "PostalCode": "W1A 1AA",
        "LeadSource": "In-store sign-up",
    }
    request = upserts(org)[-1]
    assert request.path == "/services/data/v61.0/composite/sobjects/Lead/CustomerInfo_Id__c"
    assert request.json()["allOrNone"] is False
    assert org.token_requests == 1


def test_sending_the_same_contact_twice_makes_one_lead(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    shopper = contact(1, "ada@example.com", first_name="Ada")

    first = provider(org, http).send([shopper])[1]
    # A new provider, as the next worker would build: the token comes from the shared cache.
    second = provider(org, http).send([shopper])[1]

    assert (first.verdict, first.message) == (Verdict.DELIVERED, "created")
    assert (second.verdict, second.message) == (Verdict.DELIVERED, "updated")
    assert org.creates == 1
    assert list(org.leads) == [submission_id(1)]
    assert org.token_requests == 1


def test_the_cached_token_is_encrypted_in_redis(org: FakeSalesforce, http: httpx.Client) -> None:
    salesforce = provider(org, http)
    salesforce.send([contact(1, "ada@example.com")])

    stored = redis_client().get(salesforce._token_key())

    assert isinstance(stored, bytes)
    assert org.tokens
    assert not any(token.encode() in stored for token in org.tokens)
    expires_in = redis_client().ttl(salesforce._token_key())
    assert isinstance(expires_in, int)
    assert 0 < expires_in <= 15 * 60


def test_a_batch_with_one_invalid_email_maps_results_back_per_lead(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    contacts = [
        contact(1, "ada@example.com"),
        contact(2, "not-an-address"),
        contact(3, "grace@example.com"),
    ]

    results = provider(org, http).send(contacts)

    assert verdicts(results) == {1: Verdict.DELIVERED, 2: Verdict.PERMANENT, 3: Verdict.DELIVERED}
    assert results[2].message == (
        "INVALID_EMAIL_ADDRESS: Email: invalid email address: not-an-address"
    )
    assert sorted(org.leads) == [submission_id(1), submission_id(3)]


def test_required_lead_fields_get_the_documented_placeholders(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    contacts = [
        contact(1, "ada@example.com", last_name="", location_name="Oxford Street"),
        contact(2, "grace@example.com", last_name="  "),
        contact(3, "mary@example.com", first_name="M" * 60),
    ]

    results = provider(org, http).send(contacts)

    assert set(verdicts(results).values()) == {Verdict.DELIVERED}
    assert org.lead(submission_id(1))["LastName"] == "[not provided]"
    assert org.lead(submission_id(1))["Company"] == "Oxford Street"
    assert org.lead(submission_id(2))["Company"] == "[not provided]"
    # Salesforce refuses a FirstName over 40 characters; a long name is cut, not lost.
    assert org.lead(submission_id(3))["FirstName"] == "M" * 40


def test_a_record_refused_by_salesforce_is_permanent(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    # A restricted picklist whose values changed since the mapping was saved.
    org.field_add("Region__c", "picklist", "North", "South")
    shopper = contact(1, "ada@example.com", properties={"Region__c": "East"})

    result = provider(org, http).send([shopper])[1]

    assert result.verdict == Verdict.PERMANENT
    assert result.message == (
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: Region__c: bad value for restricted picklist "
        "field: East"
    )


def test_consents_travel_with_capture_time_and_wording_and_sms_only_when_granted(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    both = contact(
        1,
        "ada@example.com",
        consents=(
            consent("email", granted=True),
            consent("sms", granted=True, wording_hash=SMS_WORDING),
        ),
    )
    declined = contact(
        2,
        "grace@example.com",
        consents=(
            consent("email", granted=False),
            consent("sms", granted=False, wording_hash=SMS_WORDING),
        ),
    )

    results = provider(org, http).send([both, declined])

    assert verdicts(results) == {1: Verdict.DELIVERED, 2: Verdict.DELIVERED}
    ada = org.lead(submission_id(1))
    assert ada["HasOptedOutOfEmail"] is False
    assert ada["CustomerInfo_Email_Consent__c"] is True
    assert ada["CustomerInfo_Email_Consent_At__c"] == "2025-03-14T09:26:53.589Z"
    assert ada["CustomerInfo_Email_Consent_Wording__c"] == EMAIL_WORDING
    assert ada["CustomerInfo_Sms_Consent__c"] is True
    assert ada["CustomerInfo_Sms_Consent_At__c"] == "2025-03-14T09:26:53.589Z"
    assert ada["CustomerInfo_Sms_Consent_Wording__c"] == SMS_WORDING
    grace = org.lead(submission_id(2))
    assert grace["HasOptedOutOfEmail"] is True
    assert grace["CustomerInfo_Email_Consent__c"] is False
    assert not any(name.startswith("CustomerInfo_Sms") for name in grace)


# --- setting up: the destination's form and its connection test --------------------------------


def test_configuration_errors() -> None:
    valid_credentials = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    assert (
        SalesforceProvider.configuration_errors(
            settings={"login_url": "https://alice.my.salesforce.com"},
            credentials=valid_credentials,
        )
        == {}
    )
    errors = SalesforceProvider.configuration_errors(
        settings={
            "login_url": "https://login.salesforce.com",
            "api_version": "v45.0",
            "external_id_field": "Id__c/../../x",
        },
        credentials={"client_id": CLIENT_ID},
    )
    assert {name: [error["code"] for error in found] for name, found in errors.items()} == {
        "login_url": ["my_domain_required"],
        "api_version": ["invalid"],
        "external_id_field": ["invalid"],
        "client_secret": ["required"],
    }
    assert SalesforceProvider.configuration_errors(settings={}, credentials={}) == {
        "login_url": [{"code": "required", "message": "This is required."}],
        "client_id": [{"code": "required", "message": "This is required."}],
        "client_secret": [{"code": "required", "message": "This is required."}],
    }


def test_connection_ok(org: FakeSalesforce, http: httpx.Client) -> None:
    result = provider(org, http).test_connection()

    assert result == Result(Verdict.DELIVERED, 200)
    assert org.requests[-1].path == "/services/data/v61.0/sobjects/Lead/describe"
    assert org.leads == {}


def test_connection_with_bad_credentials(org: FakeSalesforce, http: httpx.Client) -> None:
    result = provider(org, http, client_secret="wrong").test_connection()

    assert (result.verdict, result.status_code) == (Verdict.BROKEN, 400)
    assert result.message == (
        "Salesforce refused the client credentials: invalid_client invalid client credentials"
    )


def test_connection_names_what_the_org_lacks(org: FakeSalesforce, http: httpx.Client) -> None:
    org.external_id_fields.clear()
    no_key = provider(org, http).test_connection()
    org.external_id_fields.add("CustomerInfo_Id__c")
    org.field_remove("CustomerInfo_Sms_Consent_At__c")
    no_consent_field = provider(org, http).test_connection()

    assert no_key.verdict == Verdict.BROKEN
    assert "CustomerInfo_Id__c marked External ID" in no_key.message
    assert no_consent_field == Result(
        Verdict.BROKEN,
        200,
        "Create these Lead fields in Salesforce: CustomerInfo_Sms_Consent_At__c",
    )


def test_every_consent_field_is_one_the_fake_org_has(org: FakeSalesforce) -> None:
    assert set(consent_field_names()) <= org.lead_fields
