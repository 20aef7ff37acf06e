"""The Salesforce provider against a fake org speaking real HTTP on loopback."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crm_sync.http import http_client
from crm_sync.providers.base import ConsentEvidence, Contact, Result, Verdict
from crm_sync.providers.salesforce import SalesforceProvider, consent_field_names
from customerinfo.core.redis import redis_client
from tests.crm_sync.fakes.salesforce import CLIENT_ID, CLIENT_SECRET, FakeSalesforce
from tests.crm_sync.fakes.server import RateWindow, Reply

CAPTURED_AT = "2025-03-14T09:26:53.589793+00:00"
EMAIL_WORDING = "9f2c" * 16
SMS_WORDING = "4b1e" * 16


@pytest.fixture
def org() -> Iterator[FakeSalesforce]:
    fake = FakeSalesforce(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with http_client() as client:
        yield client


def provider(
    org: FakeSalesforce,
    client: httpx.Client,
    *,
    client_secret: str = CLIENT_SECRET,
    **settings: Any,
) -> SalesforceProvider:
    return SalesforceProvider(
        settings={"login_url": org.url, **settings},
        credentials={"client_id": CLIENT_ID, "client_secret": client_secret},
        client=client,
    )


def consent(channel: str, *, granted: bool, wording_hash: str = EMAIL_WORDING) -> ConsentEvidence:
    return ConsentEvidence(
        channel=channel,
        granted=granted,
        captured_at=CAPTURED_AT,
        wording_hash=wording_hash,
        wording_id=7,
        locale="en",
    )


def submission_id(key: int) -> str:
    return f"0b7e5a52-0000-4000-8000-{key:012d}"


def contact(key: int, email: str, **fields: Any) -> Contact:
    fields.setdefault("last_name", "Lovelace")
    return Contact(key=key, submission_id=submission_id(key), email=email, **fields)


def verdicts(results: dict[int, Result]) -> dict[int, Verdict]:
    return {key: result.verdict for key, result in results.items()}


def upserts(org: FakeSalesforce) -> list[Any]:
    return [request for request in org.requests if request.method == "PATCH"]


def test_upsert_writes_leads_keyed_by_submission_id(
    org: FakeSalesforce, client: httpx.Client
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

    results = provider(org, client, default_company="Alice's Shop").send(contacts)

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
    org: FakeSalesforce, client: httpx.Client
) -> None:
    shopper = contact(1, "ada@example.com", first_name="Ada")

    first = provider(org, client).send([shopper])[1]
    # A new provider, as the next worker would build: the token comes from the shared cache.
    second = provider(org, client).send([shopper])[1]

    assert (first.verdict, first.message) == (Verdict.DELIVERED, "created")
    assert (second.verdict, second.message) == (Verdict.DELIVERED, "updated")
    assert org.creates == 1
    assert list(org.leads) == [submission_id(1)]
    assert org.token_requests == 1


def test_the_cached_token_is_encrypted_in_redis(org: FakeSalesforce, client: httpx.Client) -> None:
    salesforce = provider(org, client)
    salesforce.send([contact(1, "ada@example.com")])

    stored = redis_client().get(salesforce._token_key())

    assert isinstance(stored, bytes)
    assert org.tokens
    assert not any(token.encode() in stored for token in org.tokens)
    expires_in = redis_client().ttl(salesforce._token_key())
    assert isinstance(expires_in, int)
    assert 0 < expires_in <= 15 * 60


def test_a_batch_with_one_invalid_email_maps_results_back_per_lead(
    org: FakeSalesforce, client: httpx.Client
) -> None:
    contacts = [
        contact(1, "ada@example.com"),
        contact(2, "not-an-address"),
        contact(3, "grace@example.com"),
    ]

    results = provider(org, client).send(contacts)

    assert verdicts(results) == {1: Verdict.DELIVERED, 2: Verdict.PERMANENT, 3: Verdict.DELIVERED}
    assert results[2].message == (
        "INVALID_EMAIL_ADDRESS: Email: invalid email address: not-an-address"
    )
    assert sorted(org.leads) == [submission_id(1), submission_id(3)]


def test_required_lead_fields_get_the_documented_placeholders(
    org: FakeSalesforce, client: httpx.Client
) -> None:
    contacts = [
        contact(1, "ada@example.com", last_name="", location_name="Oxford Street"),
        contact(2, "grace@example.com", last_name="  "),
        contact(3, "mary@example.com", first_name="M" * 60),
    ]

    results = provider(org, client).send(contacts)

    assert set(verdicts(results).values()) == {Verdict.DELIVERED}
    assert org.lead(submission_id(1))["LastName"] == "[not provided]"
    assert org.lead(submission_id(1))["Company"] == "Oxford Street"
    assert org.lead(submission_id(2))["Company"] == "[not provided]"
    # Salesforce refuses a FirstName over 40 characters; a long name is cut, not lost.
    assert org.lead(submission_id(3))["FirstName"] == "M" * 40


def test_a_record_refused_by_salesforce_is_permanent(
    org: FakeSalesforce, client: httpx.Client
) -> None:
    shopper = contact(1, "ada@example.com", properties={"Company": ""})

    result = provider(org, client).send([shopper])[1]

    assert result.verdict == Verdict.PERMANENT
    assert result.message == "REQUIRED_FIELD_MISSING: Required fields are missing: [Company]"


def test_request_limit_exceeded_waits_and_does_not_break(
    org: FakeSalesforce, client: httpx.Client
) -> None:
    org.api_limit = RateWindow(limit=1, seconds=24 * 3600)
    salesforce = provider(org, client)
    assert salesforce.send([contact(1, "ada@example.com")])[1].verdict == Verdict.DELIVERED

    results = salesforce.send([contact(2, "grace@example.com"), contact(3, "m@example.com")])

    assert verdicts(results) == {2: Verdict.RETRY, 3: Verdict.RETRY}
    assert results[2].status_code == 403
    assert results[2].retry_after == 3600.0
    assert results[2].message == "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."


def test_request_limit_exceeded_honours_retry_after_when_sent(
    org: FakeSalesforce, client: httpx.Client
) -> None:
    salesforce = provider(org, client)
    salesforce.send([contact(1, "ada@example.com")])
    org.force(
        Reply(
            403,
            [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "ConcurrentRequests limit"}],
            {"Retry-After": "30"},
        )
    )

    result = salesforce.send([contact(2, "grace@example.com")])[2]

    assert (result.verdict, result.retry_after) == (Verdict.RETRY, 30.0)


def test_server_error_retries(org: FakeSalesforce, client: httpx.Client) -> None:
    salesforce = provider(org, client)
    salesforce.send([contact(1, "ada@example.com")])
    org.force(Reply(500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": "An error occurred"}]))

    result = salesforce.send([contact(2, "grace@example.com")])[2]

    assert (result.verdict, result.status_code) == (Verdict.RETRY, 500)
    assert submission_id(2) not in org.leads


def test_token_endpoint_error_retries(org: FakeSalesforce, client: httpx.Client) -> None:
    org.force(Reply(503, {"error": "server_unavailable"}))

    result = provider(org, client).send([contact(1, "ada@example.com")])[1]

    assert (result.verdict, result.status_code) == (Verdict.RETRY, 503)


def test_timeout_retries(org: FakeSalesforce) -> None:
    org.delay = 0.5
    with http_client(timeout=0.2) as short_client:
        result = provider(org, short_client).send([contact(1, "ada@example.com")])[1]

    assert result.verdict == Verdict.RETRY
    assert result.message == "The CRM did not answer in time."


def test_down_server_retries(org: FakeSalesforce, client: httpx.Client) -> None:
    org.down = True

    result = provider(org, client).send([contact(1, "ada@example.com")])[1]

    assert result.verdict == Verdict.RETRY
    assert result.message.startswith("Could not reach the CRM")


def test_an_expired_token_is_renewed_transparently(
    org: FakeSalesforce, client: httpx.Client
) -> None:
    salesforce = provider(org, client)
    salesforce.send([contact(1, "ada@example.com")])
    org.expire_tokens()

    result = salesforce.send([contact(2, "grace@example.com")])[2]

    assert result.verdict == Verdict.DELIVERED
    assert org.token_requests == 2
    assert [request.method for request in org.requests] == [
        "POST",
        "PATCH",
        "PATCH",
        "POST",
        "PATCH",
    ]


def test_a_session_rejected_even_when_fresh_breaks_the_destination(
    org: FakeSalesforce, client: httpx.Client
) -> None:
    salesforce = provider(org, client)
    salesforce.send([contact(1, "ada@example.com")])
    org.expire_tokens()
    org.kill_sessions = True

    results = salesforce.send([contact(2, "grace@example.com"), contact(3, "m@example.com")])

    assert verdicts(results) == {2: Verdict.BROKEN, 3: Verdict.BROKEN}
    assert results[2].message == "INVALID_SESSION_ID: Session expired or invalid"
    # Renewed once, not in a loop.
    assert org.token_requests == 2


def test_revoked_client_credentials_break_the_destination(
    org: FakeSalesforce, client: httpx.Client
) -> None:
    salesforce = provider(org, client)
    salesforce.send([contact(1, "ada@example.com")])
    org.revoke_client()

    result = salesforce.send([contact(2, "grace@example.com")])[2]

    assert (result.verdict, result.status_code) == (Verdict.BROKEN, 400)
    assert "invalid_client" in result.message


def test_forbidden_breaks_the_destination(org: FakeSalesforce, client: httpx.Client) -> None:
    salesforce = provider(org, client)
    salesforce.send([contact(1, "ada@example.com")])
    org.force(Reply(403, [{"errorCode": "INSUFFICIENT_ACCESS", "message": "no access"}]))

    result = salesforce.send([contact(2, "grace@example.com")])[2]

    assert (result.verdict, result.status_code) == (Verdict.BROKEN, 403)


def test_a_field_the_org_lacks_breaks_the_destination(
    org: FakeSalesforce, client: httpx.Client
) -> None:
    org.lead_fields.discard("CustomerInfo_Email_Consent_Wording__c")
    shopper = contact(1, "ada@example.com", consents=(consent("email", granted=True),))

    result = provider(org, client).send([shopper])[1]

    assert (result.verdict, result.status_code) == (Verdict.BROKEN, 400)
    assert "CustomerInfo_Email_Consent_Wording__c" in result.message


def test_an_unknown_external_id_field_breaks_the_destination(
    org: FakeSalesforce, client: httpx.Client
) -> None:
    result = provider(org, client, external_id_field="Shopper_Id__c").send(
        [contact(1, "ada@example.com")]
    )[1]

    assert (result.verdict, result.status_code) == (Verdict.BROKEN, 404)
    assert "Shopper_Id__c" in result.message


def test_a_malformed_request_is_permanent(org: FakeSalesforce, client: httpx.Client) -> None:
    salesforce = provider(org, client)
    salesforce.send([contact(1, "ada@example.com")])
    org.force(Reply(400, [{"errorCode": "JSON_PARSER_ERROR", "message": "Cannot deserialize"}]))

    result = salesforce.send([contact(2, "grace@example.com")])[2]

    assert result == Result(Verdict.PERMANENT, 400, "JSON_PARSER_ERROR: Cannot deserialize")


def test_consents_travel_with_capture_time_and_wording_and_sms_only_when_granted(
    org: FakeSalesforce, client: httpx.Client
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

    results = provider(org, client).send([both, declined])

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


def test_connection_ok(org: FakeSalesforce, client: httpx.Client) -> None:
    result = provider(org, client).test_connection()

    assert result == Result(Verdict.DELIVERED, 200)
    assert org.requests[-1].path == "/services/data/v61.0/sobjects/Lead/describe"
    assert org.leads == {}


def test_connection_with_bad_credentials(org: FakeSalesforce, client: httpx.Client) -> None:
    result = provider(org, client, client_secret="wrong").test_connection()

    assert (result.verdict, result.status_code) == (Verdict.BROKEN, 400)
    assert result.message == (
        "Salesforce refused the client credentials: invalid_client invalid client credentials"
    )


def test_connection_names_what_the_org_lacks(org: FakeSalesforce, client: httpx.Client) -> None:
    org.external_id_fields.clear()
    no_key = provider(org, client).test_connection()
    org.external_id_fields.add("CustomerInfo_Id__c")
    org.lead_fields.discard("CustomerInfo_Sms_Consent_At__c")
    no_consent_field = provider(org, client).test_connection()

    assert no_key.verdict == Verdict.BROKEN
    assert "CustomerInfo_Id__c marked External ID" in no_key.message
    assert no_consent_field == Result(
        Verdict.BROKEN,
        200,
        "Create these Lead fields in Salesforce: CustomerInfo_Sms_Consent_At__c",
    )


def test_every_consent_field_is_one_the_fake_org_has(org: FakeSalesforce) -> None:
    assert set(consent_field_names()) <= org.lead_fields


def test_a_success_without_the_list_of_results_is_not_taken_as_delivered(
    org: FakeSalesforce, client: httpx.Client
) -> None:
    salesforce = provider(org, client)
    salesforce.send([contact(1, "ada@example.com")])
    org.force(Reply(200, {"status": "ok"}))

    result = salesforce.send([contact(2, "grace@example.com")])[2]

    assert (result.verdict, result.status_code) == (Verdict.RETRY, 200)
