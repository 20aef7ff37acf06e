"""Mailchimp over real HTTP against the fake: upserts, consent rules, every failure's verdict."""

import base64
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from crm_sync.http import http_client
from crm_sync.providers.base import ConsentEvidence, Contact, Verdict
from crm_sync.providers.mailchimp import MailchimpProvider, subscriber_hash

from .fakes.mailchimp import API_KEY, LIST_ID, FakeMailchimp
from .fakes.server import RateWindow, Reply

CAPTURED_AT = "2025-03-14T09:26:53+00:00"


@pytest.fixture
def fake() -> Iterator[FakeMailchimp]:
    with FakeMailchimp() as server:
        assert isinstance(server, FakeMailchimp)
        yield server


def provider_for(
    fake: FakeMailchimp, http: httpx.Client, *, api_key: str = API_KEY, **settings: Any
) -> MailchimpProvider:
    return MailchimpProvider(
        settings={"base_url": fake.url, "list_id": LIST_ID, **settings},
        credentials={"api_key": api_key},
        client=http,
    )


def consent(channel: str = "email", *, granted: bool = True) -> ConsentEvidence:
    return ConsentEvidence(
        channel=channel,
        granted=granted,
        captured_at=CAPTURED_AT,
        wording_hash="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        wording_id=12,
        locale="en",
    )


def contact(key: int = 1, *, email: str = "ana@shop.test", **values: Any) -> Contact:
    defaults: dict[str, Any] = {
        "submission_id": f"submission-{key}",
        "first_name": "Ana",
        "last_name": "Lima",
        "phone": "+33612345678",
        "birthday_month": 3,
        "birthday_day": 7,
        "captured_at": CAPTURED_AT,
        "consents": (consent(),),
    }
    return Contact(key=key, email=email, **{**defaults, **values})


def test_upsert_creates_a_subscribed_member_with_its_fields(
    fake: FakeMailchimp, http: httpx.Client
) -> None:
    results = provider_for(fake, http).send([contact()])

    assert results == {1: results[1]}
    assert results[1].verdict is Verdict.DELIVERED
    member = fake.member("ana@shop.test")
    assert member is not None
    assert member["status"] == "subscribed"
    assert member["merge_fields"] == {
        "FNAME": "Ana",
        "LNAME": "Lima",
        "PHONE": "+33612345678",
        "BIRTHDAY": "03/07",
    }
    assert member["timestamp_signup"] == CAPTURED_AT
    assert member["timestamp_opt"] == CAPTURED_AT
    assert (
        fake.requests[-1].path == f"/3.0/lists/{LIST_ID}/members/{subscriber_hash('ana@shop.test')}"
    )


def test_the_same_contact_twice_makes_one_member(fake: FakeMailchimp, http: httpx.Client) -> None:
    provider = provider_for(fake, http)

    first = provider.send([contact(1)])
    # A redelivery, and the same shopper typing her address in capitals at another shop.
    second = provider.send([contact(1)])
    third = provider.send([contact(2, email="Ana@Shop.TEST", first_name="Anna")])

    assert {first[1].verdict, second[1].verdict, third[2].verdict} == {Verdict.DELIVERED}
    assert fake.creates == 1
    assert len(fake.contacts) == 1
    assert fake.member_of("ana@shop.test")["merge_fields"]["FNAME"] == "Anna"


def test_double_opt_in_makes_a_new_member_pending(fake: FakeMailchimp, http: httpx.Client) -> None:
    results = provider_for(fake, http).send([contact(double_opt_in=True)])

    assert results[1].verdict is Verdict.DELIVERED
    member = fake.member("ana@shop.test")
    assert member is not None
    assert member["status"] == "pending"
    # Mailchimp dates the opt-in when the shopper confirms, not us.
    assert member["timestamp_opt"] == ""


def test_double_opt_in_leaves_an_existing_subscribed_member_subscribed(
    fake: FakeMailchimp, http: httpx.Client
) -> None:
    fake.member_add("ana@shop.test", status="subscribed", FNAME="Old")

    results = provider_for(fake, http).send([contact(double_opt_in=True)])

    assert results[1].verdict is Verdict.DELIVERED
    member = fake.member("ana@shop.test")
    assert member is not None
    assert member["status"] == "subscribed"
    assert member["merge_fields"]["FNAME"] == "Ana"
    assert fake.creates == 0
    assert "status" not in fake.requests[-1].json()


def test_no_consent_is_never_subscribed(fake: FakeMailchimp, http: httpx.Client) -> None:
    refused = contact(1, consents=(consent(granted=False),))
    never_asked = contact(2, email="bo@shop.test", consents=())

    results = provider_for(fake, http).send([refused, never_asked])

    assert {result.verdict for result in results.values()} == {Verdict.DELIVERED}
    assert fake.member_of("ana@shop.test")["status"] == "transactional"
    assert fake.member_of("bo@shop.test")["status"] == "transactional"
    assert "timestamp_opt" not in fake.requests[-1].json()


def test_an_unsubscribed_member_with_new_consent_is_asked_to_confirm(
    fake: FakeMailchimp, http: httpx.Client
) -> None:
    fake.member_add("ana@shop.test", status="unsubscribed")

    results = provider_for(fake, http).send([contact()])

    assert results[1].verdict is Verdict.DELIVERED
    assert results[1].message == "Status raised from unsubscribed to pending."
    # Pending: Mailchimp emails the shopper, whose click subscribes them again.
    assert fake.member_of("ana@shop.test")["status"] == "pending"


def test_an_unsubscribed_member_without_new_consent_stays_unsubscribed(
    fake: FakeMailchimp, http: httpx.Client
) -> None:
    fake.member_add("ana@shop.test", status="unsubscribed")

    results = provider_for(fake, http).send([contact(consents=(consent(granted=False),))])

    assert results[1].verdict is Verdict.DELIVERED
    assert fake.member_of("ana@shop.test")["status"] == "unsubscribed"


def test_consent_wording_and_mapped_properties_travel_as_merge_fields(
    fake: FakeMailchimp, http: httpx.Client
) -> None:
    provider = provider_for(
        fake, http, consent_merge_field="CONSENT", postal_code_merge_field="ZIP"
    )

    provider.send([contact(postal_code="75011", properties={"STORE": "Paris 11", "FNAME": "A."})])

    fields = fake.member_of("ana@shop.test")["merge_fields"]
    assert fields["CONSENT"].startswith(
        f"email granted {CAPTURED_AT}; wording #12 9f86d081884c7d65"
    )
    assert fields["ZIP"] == "75011"
    assert fields["STORE"] == "Paris 11"
    # The retailer's mapping wins over our defaults.
    assert fields["FNAME"] == "A."
    assert "ADDRESS" not in fields


def test_each_contact_gets_its_own_result(fake: FakeMailchimp, http: httpx.Client) -> None:
    fake.fake_emails.add("test@shop.test")
    fake.compliance_emails.add("gone@shop.test")

    results = provider_for(fake, http).send(
        [contact(1), contact(2, email="test@shop.test"), contact(3, email="gone@shop.test")]
    )

    assert results[1].verdict is Verdict.DELIVERED
    assert results[2].verdict is Verdict.PERMANENT
    assert results[2].status_code == 400
    assert "Invalid Resource: test@shop.test looks fake or invalid" in results[2].message
    assert results[3].verdict is Verdict.PERMANENT
    assert results[3].message.startswith("Member In Compliance State: gone@shop.test")
    assert set(fake.contacts) == {subscriber_hash("ana@shop.test")}


def test_a_merge_field_the_audience_refuses_is_left_out_with_the_reason(
    fake: FakeMailchimp, http: httpx.Client
) -> None:
    # The dropdown's choices changed in Mailchimp since the mapping was saved.
    fake.merge_field_add("STORE", "dropdown", choices=["Lyon"])

    results = provider_for(fake, http).send([contact(properties={"STORE": "Paris 11"})])

    assert results[1].verdict is Verdict.DELIVERED
    assert results[1].message == (
        "Delivered, leaving out STORE: Invalid Resource: Your merge fields were invalid. "
        "(STORE: Please choose one of the listed options.)"
    )
    member = fake.member_of("ana@shop.test")
    assert member["status"] == "subscribed"
    assert "STORE" not in member["merge_fields"]


def test_a_mapped_address_is_refused_as_mailchimp_would(
    fake: FakeMailchimp, http: httpx.Client
) -> None:
    results = provider_for(fake, http).send([contact(properties={"ADDRESS": "1 rue"})])

    assert results[1].verdict is Verdict.DELIVERED
    assert results[1].message == (
        "Delivered, leaving out ADDRESS: Mailchimp's ADDRESS needs street, city, state and zip "
        "together."
    )
    assert "ADDRESS" not in fake.member_of("ana@shop.test")["merge_fields"]


def test_the_signup_throttle_is_retried(fake: FakeMailchimp, http: httpx.Client) -> None:
    fake.force(
        Reply(
            400,
            {
                "title": "Invalid Resource",
                "status": 400,
                "detail": "ana@shop.test has signed up to a lot of lists very recently; "
                "we're not allowing more signups for now",
            },
        )
    )

    results = provider_for(fake, http).send([contact()])

    assert results[1].verdict is Verdict.RETRY


def test_429_is_retried_after_what_mailchimp_asks(fake: FakeMailchimp, http: httpx.Client) -> None:
    fake.force(Reply(429, {"title": "Too Many Requests", "status": 429}, {"Retry-After": "7"}))

    results = provider_for(fake, http).send([contact()])

    assert results[1].verdict is Verdict.RETRY
    assert results[1].status_code == 429
    assert results[1].retry_after == 7.0


def test_throttling_without_retry_after_is_retried_on_the_schedule(
    fake: FakeMailchimp, http: httpx.Client
) -> None:
    fake.rate_window = RateWindow(limit=1, seconds=30)

    results = provider_for(fake, http).send([contact(1), contact(2, email="bo@shop.test")])

    assert results[1].verdict is Verdict.DELIVERED
    assert results[2].verdict is Verdict.RETRY
    assert results[2].status_code == 429
    # Mailchimp says nothing of when to come back: the retry schedule decides.
    assert results[2].retry_after is None
    assert "Retry-After" not in fake.requests[-1].headers


def test_more_than_the_allowed_connections_is_retried(
    fake: FakeMailchimp, http: httpx.Client
) -> None:
    fake.max_connections = 1
    fake.delay = 0.3
    provider = provider_for(fake, http)

    with ThreadPoolExecutor(max_workers=2) as pool:
        batches = pool.map(provider.send, [[contact(1)], [contact(2, email="bo@shop.test")]])
        results = {key: result for batch in batches for key, result in batch.items()}

    assert fake.peak_connections == 2
    assert sorted(result.verdict for result in results.values()) == [
        Verdict.DELIVERED,
        Verdict.RETRY,
    ]
    crowded = next(result for result in results.values() if result.verdict is Verdict.RETRY)
    assert "simultaneous connections" in crowded.message
    assert MailchimpProvider.max_connections == 10


def test_500_is_retried(fake: FakeMailchimp, http: httpx.Client) -> None:
    fake.force(Reply(500, {"title": "Internal Server Error", "status": 500}))

    results = provider_for(fake, http).send([contact()])

    assert results[1].verdict is Verdict.RETRY
    assert results[1].status_code == 500


def test_a_timeout_is_retried(fake: FakeMailchimp) -> None:
    fake.delay = 0.6
    with http_client(timeout=0.2) as impatient:
        results = provider_for(fake, impatient).send([contact()])

    assert results[1].verdict is Verdict.RETRY
    assert results[1].message == "The CRM did not answer in time."


def test_a_down_server_is_retried(fake: FakeMailchimp, http: httpx.Client) -> None:
    fake.down = True

    results = provider_for(fake, http).send([contact()])

    assert results[1].verdict is Verdict.RETRY
    assert results[1].message.startswith("Could not reach the CRM")


def test_a_wrong_api_key_breaks_the_destination(fake: FakeMailchimp, http: httpx.Client) -> None:
    wrong = "ffffffffffffffffffffffffffffffff-us21"

    results = provider_for(fake, http, api_key=wrong).send([contact()])

    assert results[1].verdict is Verdict.BROKEN
    assert results[1].status_code == 401
    assert results[1].message.startswith("API Key Invalid")
    assert fake.contacts == {}


def test_403_breaks_the_destination(fake: FakeMailchimp, http: httpx.Client) -> None:
    fake.force(Reply(403, {"title": "User Disabled", "status": 403, "detail": "Disabled."}))

    results = provider_for(fake, http).send([contact()])

    assert results[1].verdict is Verdict.BROKEN


def test_a_missing_audience_breaks_the_destination(fake: FakeMailchimp, http: httpx.Client) -> None:
    results = provider_for(fake, http, list_id="deleted123").send([contact()])

    assert results[1].verdict is Verdict.BROKEN
    assert results[1].status_code == 404
    assert "audience 'deleted123' was not found" in results[1].message


def test_the_fake_refuses_a_hash_of_another_address(fake: FakeMailchimp) -> None:
    token = base64.b64encode(f"any:{API_KEY}".encode()).decode()

    response = httpx.put(
        f"{fake.url}/3.0/lists/{LIST_ID}/members/{subscriber_hash('someone@else.test')}",
        json={"email_address": "ana@shop.test", "status_if_new": "subscribed"},
        headers={"Authorization": f"Basic {token}"},
    )

    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Resource"
    assert fake.contacts == {}


def test_the_host_comes_from_the_keys_datacenter(http: httpx.Client) -> None:
    provider = MailchimpProvider(
        settings={"list_id": LIST_ID}, credentials={"api_key": API_KEY}, client=http
    )

    assert provider.base_url() == "https://us21.api.mailchimp.com"


def test_configuration_errors() -> None:
    assert MailchimpProvider.configuration_errors(settings={}, credentials={}) == {
        "list_id": [{"code": "required", "message": "This is required."}],
        "api_key": [{"code": "required", "message": "This is required."}],
    }
    errors = MailchimpProvider.configuration_errors(
        settings={"list_id": LIST_ID, "consent_merge_field": "consent field"},
        credentials={"api_key": "0123456789abcdef"},
    )
    assert set(errors) == {"api_key", "consent_merge_field"}
    assert errors["api_key"][0]["code"] == "invalid"
    assert (
        MailchimpProvider.configuration_errors(
            settings={"list_id": LIST_ID, "consent_merge_field": "CONSENT"},
            credentials={"api_key": API_KEY},
        )
        == {}
    )


def test_connection_ok(fake: FakeMailchimp, http: httpx.Client) -> None:
    result = provider_for(fake, http).test_connection()

    assert result.verdict is Verdict.DELIVERED
    assert fake.requests[-1].method == "GET"
    assert fake.requests[-1].path == f"/3.0/lists/{LIST_ID}"


def test_connection_with_bad_credentials(fake: FakeMailchimp, http: httpx.Client) -> None:
    wrong = "ffffffffffffffffffffffffffffffff-us21"

    result = provider_for(fake, http, api_key=wrong).test_connection()

    assert result.verdict is Verdict.BROKEN
    assert result.status_code == 401


def test_connection_with_a_missing_audience(fake: FakeMailchimp, http: httpx.Client) -> None:
    result = provider_for(fake, http, list_id="deleted123").test_connection()

    assert result.verdict is Verdict.BROKEN
    assert "audience 'deleted123' was not found" in result.message
