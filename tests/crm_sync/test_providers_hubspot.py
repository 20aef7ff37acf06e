"""The HubSpot provider against a fake HubSpot account speaking real HTTP on loopback."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crm_sync.endpoints import UrlRole
from crm_sync.http import http_client
from crm_sync.providers.base import ConsentEvidence, Contact, Result, Verdict
from crm_sync.providers.hubspot import HubSpotProvider, consent_property_names
from tests.crm_sync.fakes.hubspot import TOKEN, FakeHubSpot
from tests.crm_sync.fakes.server import RateWindow, Reply

CAPTURED_AT = "2025-03-14T09:26:53.589793+00:00"
EMAIL_WORDING = "9f2c" * 16
SMS_WORDING = "4b1e" * 16


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot(token=TOKEN)
    fake.start()
    yield fake
    fake.stop()


def provider(fake: FakeHubSpot, http: httpx.Client, *, token: str = TOKEN) -> HubSpotProvider:
    return HubSpotProvider(
        settings={"base_url": fake.url}, credentials={"access_token": token}, client=http
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


def contact(key: int, email: str, **fields: Any) -> Contact:
    return Contact(
        key=key,
        submission_id=f"0b7e5a52-0000-4000-8000-{key:012d}",
        email=email,
        **fields,
    )


def verdicts(results: dict[int, Result]) -> dict[int, Verdict]:
    return {key: result.verdict for key, result in results.items()}


def test_upsert_writes_contacts_with_standard_fields_and_mapped_properties(
    hubspot: FakeHubSpot, http: httpx.Client
) -> None:
    contacts = [
        contact(
            1,
            "ada@example.com",
            first_name="Ada",
            last_name="Lovelace",
            phone="+44 20 7946 0000",
            postal_code="W1A 1AA",
            locale="fr",
            properties={"company": "Analytical Engines", "jobtitle": None},
        ),
        contact(2, "grace@example.com", first_name="Grace"),
    ]

    results = provider(hubspot, http).send(contacts)

    assert verdicts(results) == {1: Verdict.DELIVERED, 2: Verdict.DELIVERED}
    assert hubspot.contact("ada@example.com") == {
        "email": "ada@example.com",
        "firstname": "Ada",
        "lastname": "Lovelace",
        "phone": "+44 20 7946 0000",
        "zip": "W1A 1AA",
        "hs_language": "fr",
        "company": "Analytical Engines",
    }
    request = hubspot.requests[-1]
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    inputs = request.json()["inputs"]
    assert [item["idProperty"] for item in inputs] == ["email", "email"]
    assert [item["objectWriteTraceId"] for item in inputs] == ["1", "2"]
    # Blank fields are left out: an empty string would clear what HubSpot already holds.
    assert "lastname" not in inputs[1]["properties"]


def test_sending_the_same_contact_twice_makes_one_contact(
    hubspot: FakeHubSpot, http: httpx.Client
) -> None:
    hubspot_provider = provider(hubspot, http)
    first = contact(1, "ada@example.com", first_name="Ada", phone="+1 555 0100")

    assert verdicts(hubspot_provider.send([first])) == {1: Verdict.DELIVERED}
    assert verdicts(hubspot_provider.send([first])) == {1: Verdict.DELIVERED}
    later = contact(2, "ADA@example.com", first_name="Augusta")
    assert verdicts(hubspot_provider.send([later])) == {2: Verdict.DELIVERED}

    assert hubspot.creates == 1
    assert list(hubspot.contacts) == ["ada@example.com"]
    stored = hubspot.contact("ada@example.com")
    assert stored["firstname"] == "Augusta"
    assert stored["phone"] == "+1 555 0100"


def test_one_email_twice_in_a_batch_goes_in_two_calls_and_the_later_wins(
    hubspot: FakeHubSpot, http: httpx.Client
) -> None:
    contacts = [
        contact(1, "ada@example.com", first_name="Ada"),
        contact(2, "grace@example.com", first_name="Grace"),
        contact(3, "Ada@Example.com", first_name="Augusta"),
    ]

    results = provider(hubspot, http).send(contacts)

    assert verdicts(results) == {1: Verdict.DELIVERED, 2: Verdict.DELIVERED, 3: Verdict.DELIVERED}
    assert len(hubspot.requests) == 2
    assert hubspot.creates == 2
    assert hubspot.contact("ada@example.com")["firstname"] == "Augusta"


def test_a_batch_with_one_invalid_email_maps_results_back_per_contact(
    hubspot: FakeHubSpot, http: httpx.Client
) -> None:
    contacts = [
        contact(11, "ada@example.com"),
        contact(12, "not-an-address"),
        contact(13, "grace@example.com"),
    ]

    results = provider(hubspot, http).send(contacts)

    assert verdicts(results) == {
        11: Verdict.DELIVERED,
        12: Verdict.PERMANENT,
        13: Verdict.DELIVERED,
    }
    assert results[12].status_code == 207
    assert results[12].message == "Email address not-an-address is invalid"
    assert sorted(hubspot.contacts) == ["ada@example.com", "grace@example.com"]


def test_a_whole_batch_refused_for_a_named_contact_sends_the_others_again(
    hubspot: FakeHubSpot, http: httpx.Client
) -> None:
    hubspot.force(
        Reply(
            400,
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": 'Property values were not valid: [{"isValid":false,'
                '"message":"Email address bad@example is invalid","error":"INVALID_EMAIL"}]',
            },
        )
    )

    results = provider(hubspot, http).send(
        [contact(1, "ada@example.com"), contact(2, "bad@example")]
    )

    assert verdicts(results) == {1: Verdict.RETRY, 2: Verdict.PERMANENT}
    assert "bad@example is invalid" in results[2].message


def test_a_whole_batch_refused_without_naming_anyone_is_permanent_for_all(
    hubspot: FakeHubSpot, http: httpx.Client
) -> None:
    hubspot.force(
        Reply(400, {"status": "error", "category": "VALIDATION_ERROR", "message": "Bad input"})
    )

    results = provider(hubspot, http).send(
        [contact(1, "ada@example.com"), contact(2, "grace@example.com")]
    )

    # HubSpot named no email: the sender splits the batch to find the contact at fault.
    refused = Result(Verdict.PERMANENT, 400, "Bad input", whole_batch=True)
    assert results == {1: refused, 2: refused}


def test_a_missing_property_breaks_the_destination_not_the_contact(
    hubspot: FakeHubSpot, http: httpx.Client
) -> None:
    hubspot.property_remove("customerinfo_email_consent_wording")
    shopper = contact(1, "ada@example.com", consents=(consent("email", granted=True),))

    results = provider(hubspot, http).send([shopper])

    assert results[1].verdict == Verdict.BROKEN
    assert "customerinfo_email_consent_wording" in results[1].message


def test_rate_limit_retries_after_what_hubspot_says(
    hubspot: FakeHubSpot, http: httpx.Client
) -> None:
    hubspot.rate = RateWindow(limit=1, seconds=10)
    hubspot_provider = provider(hubspot, http)
    assert hubspot_provider.send([contact(1, "ada@example.com")])[1].verdict == Verdict.DELIVERED

    result = hubspot_provider.send([contact(2, "grace@example.com")])[2]

    assert result.verdict == Verdict.RETRY
    assert result.status_code == 429
    assert result.retry_after == 10
    assert "ten_secondly_rolling" in result.message


def test_rate_limit_without_retry_after_waits_the_rolling_window(
    hubspot: FakeHubSpot, http: httpx.Client
) -> None:
    hubspot.force(
        Reply(
            429,
            {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "policyName": "SECONDLY",
            },
        ),
        Reply(
            429,
            {
                "status": "error",
                "message": "You have reached your daily limit.",
                "errorType": "RATE_LIMIT",
                "policyName": "DAILY",
            },
        ),
    )
    hubspot_provider = provider(hubspot, http)

    secondly = hubspot_provider.send([contact(1, "ada@example.com")])[1]
    daily = hubspot_provider.send([contact(1, "ada@example.com")])[1]

    assert (secondly.verdict, secondly.retry_after) == (Verdict.RETRY, 10.0)
    assert (daily.verdict, daily.retry_after) == (Verdict.RETRY, 3600.0)


def test_locked_waits_at_least_two_seconds(hubspot: FakeHubSpot, http: httpx.Client) -> None:
    hubspot.force(Reply(423, {"status": "error", "message": "Locked"}))

    result = provider(hubspot, http).send([contact(1, "ada@example.com")])[1]

    assert (result.verdict, result.retry_after) == (Verdict.RETRY, 2.0)


def test_server_error_retries(hubspot: FakeHubSpot, http: httpx.Client) -> None:
    hubspot.force(Reply(500, {"status": "error", "message": "internal error"}))

    results = provider(hubspot, http).send(
        [contact(1, "ada@example.com"), contact(2, "grace@example.com")]
    )

    assert verdicts(results) == {1: Verdict.RETRY, 2: Verdict.RETRY}
    assert results[1].status_code == 500
    assert hubspot.contacts == {}


def test_timeout_retries(hubspot: FakeHubSpot) -> None:
    hubspot.delay = 0.5
    with http_client(timeout=0.2) as short_client:
        result = provider(hubspot, short_client).send([contact(1, "ada@example.com")])[1]

    assert result.verdict == Verdict.RETRY
    assert result.message == "The CRM did not answer in time."


def test_down_server_retries(hubspot: FakeHubSpot, http: httpx.Client) -> None:
    hubspot.down = True

    result = provider(hubspot, http).send([contact(1, "ada@example.com")])[1]

    assert result.verdict == Verdict.RETRY
    assert result.message.startswith("Could not reach the CRM")


def test_bad_token_breaks_the_destination(hubspot: FakeHubSpot, http: httpx.Client) -> None:
    results = provider(hubspot, http, token="pat-na1-revoked").send(
        [contact(1, "ada@example.com"), contact(2, "grace@example.com")]
    )

    assert verdicts(results) == {1: Verdict.BROKEN, 2: Verdict.BROKEN}
    assert results[1].status_code == 401
    assert hubspot.contacts == {}


def test_missing_write_scope_breaks_the_destination(
    hubspot: FakeHubSpot, http: httpx.Client
) -> None:
    hubspot.read_only_tokens.add("pat-na1-read-only")

    result = provider(hubspot, http, token="pat-na1-read-only").send(
        [contact(1, "ada@example.com")]
    )[1]

    assert (result.verdict, result.status_code) == (Verdict.BROKEN, 403)
    assert "scopes" in result.message


def test_consents_travel_with_capture_time_and_wording_and_sms_only_when_granted(
    hubspot: FakeHubSpot, http: httpx.Client
) -> None:
    both = contact(
        1,
        "ada@example.com",
        consents=(
            consent("email", granted=True),
            consent("sms", granted=True, wording_hash=SMS_WORDING),
        ),
    )
    email_only = contact(
        2,
        "grace@example.com",
        consents=(
            consent("email", granted=False),
            consent("sms", granted=False, wording_hash=SMS_WORDING),
        ),
    )

    results = provider(hubspot, http).send([both, email_only])

    assert verdicts(results) == {1: Verdict.DELIVERED, 2: Verdict.DELIVERED}
    ada = hubspot.contact("ada@example.com")
    assert ada["customerinfo_email_consent"] == "true"
    assert ada["customerinfo_email_consent_at"] == "2025-03-14T09:26:53.589Z"
    assert ada["customerinfo_email_consent_wording"] == EMAIL_WORDING
    assert ada["customerinfo_sms_consent"] == "true"
    assert ada["customerinfo_sms_consent_at"] == "2025-03-14T09:26:53.589Z"
    assert ada["customerinfo_sms_consent_wording"] == SMS_WORDING
    grace = hubspot.contact("grace@example.com")
    assert grace["customerinfo_email_consent"] == "false"
    assert grace["customerinfo_email_consent_wording"] == EMAIL_WORDING
    assert not any(name.startswith("customerinfo_sms") for name in grace)


def test_configuration_errors() -> None:
    assert (
        HubSpotProvider.configuration_errors(settings={}, credentials={"access_token": TOKEN}) == {}
    )
    assert HubSpotProvider.configuration_errors(settings={}, credentials={"access_token": " "}) == {
        "access_token": [{"code": "required", "message": "This is required."}]
    }
    # The API address is read by crm_sync.endpoints, like every URL a retailer types.
    assert HubSpotProvider.url_settings == {"base_url": UrlRole.API_BASE}


def test_default_base_url_is_hubspots_api(http: httpx.Client) -> None:
    hubspot_provider = HubSpotProvider(
        settings={}, credentials={"access_token": TOKEN}, client=http
    )

    assert hubspot_provider.base_url == "https://api.hubapi.com"


def test_connection_ok(hubspot: FakeHubSpot, http: httpx.Client) -> None:
    result = provider(hubspot, http).test_connection()

    assert result == Result(Verdict.DELIVERED, 200)
    assert hubspot.requests[-1].method == "GET"
    assert hubspot.contacts == {}


def test_connection_with_a_bad_token(hubspot: FakeHubSpot, http: httpx.Client) -> None:
    result = provider(hubspot, http, token="pat-na1-wrong").test_connection()

    assert (result.verdict, result.status_code) == (Verdict.BROKEN, 401)


def test_connection_names_the_missing_properties(hubspot: FakeHubSpot, http: httpx.Client) -> None:
    hubspot.property_remove("customerinfo_sms_consent")
    hubspot.property_remove("customerinfo_sms_consent_at")

    result = provider(hubspot, http).test_connection()

    assert result.verdict == Verdict.BROKEN
    assert result.message == (
        "Create these contact properties in HubSpot: "
        "customerinfo_sms_consent, customerinfo_sms_consent_at."
    )


def test_connection_when_hubspot_is_down(hubspot: FakeHubSpot, http: httpx.Client) -> None:
    hubspot.down = True

    assert provider(hubspot, http).test_connection().verdict == Verdict.RETRY


def test_every_consent_property_is_one_the_fake_account_has(hubspot: FakeHubSpot) -> None:
    assert set(consent_property_names()) <= hubspot.properties


def test_a_success_without_hubspots_answer_is_not_taken_as_delivered(
    hubspot: FakeHubSpot, http: httpx.Client
) -> None:
    hubspot.force(Reply(200))

    result = provider(hubspot, http).send([contact(1, "ada@example.com")])[1]

    assert (result.verdict, result.status_code) == (Verdict.RETRY, 200)
