"""Klaviyo over real HTTP against the fake: import then subscribe, consent rules, every verdict."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from crm_sync.endpoints import UrlRole
from crm_sync.http import http_client
from crm_sync.providers.base import ConsentEvidence, Contact, Verdict
from crm_sync.providers.klaviyo import REVISION, KlaviyoProvider

from .fakes.klaviyo import API_KEY, LIST_ID, SUBSCRIPTION_JOBS, FakeKlaviyo
from .fakes.server import RateWindow, Reply

CAPTURED_AT = "2025-03-14T09:26:53+00:00"
WORDING_HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


@pytest.fixture
def fake() -> Iterator[FakeKlaviyo]:
    with FakeKlaviyo() as server:
        assert isinstance(server, FakeKlaviyo)
        yield server


def provider_for(
    fake: FakeKlaviyo, http: httpx.Client, *, api_key: str = API_KEY, **settings: Any
) -> KlaviyoProvider:
    return KlaviyoProvider(
        settings={"base_url": fake.url, "list_id": LIST_ID, **settings},
        credentials={"api_key": api_key},
        client=http,
    )


def consent(
    channel: str = "email", *, granted: bool = True, captured_at: str = CAPTURED_AT
) -> ConsentEvidence:
    return ConsentEvidence(
        channel=channel,
        granted=granted,
        captured_at=captured_at,
        wording_hash=WORDING_HASH,
        wording_id=12 if channel == "email" else 13,
        locale="en",
    )


def contact(key: int = 1, *, email: str = "ana@shop.test", **values: Any) -> Contact:
    defaults: dict[str, Any] = {
        "submission_id": f"submission-{key}",
        "first_name": "Ana",
        "last_name": "Lima",
        "phone": "+33612345678",
        "postal_code": "75011",
        "birthday_month": 3,
        "birthday_day": 7,
        "location_name": "Paris 11",
        "captured_at": CAPTURED_AT,
        "consents": (consent(),),
    }
    return Contact(key=key, email=email, **{**defaults, **values})


def subscribed_channels(fake: FakeKlaviyo, email: str) -> dict[str, str]:
    return {
        channel: state["consent"] for channel, state in fake.subscriptions.get(email, {}).items()
    }


def test_upsert_imports_the_profile_then_subscribes_the_granted_channel(
    fake: FakeKlaviyo, http: httpx.Client
) -> None:
    results = provider_for(fake, http).send([contact()])

    assert results == {1: results[1]}
    assert results[1].verdict is Verdict.DELIVERED
    assert results[1].status_code == 202
    profile = fake.profile("ana@shop.test")
    assert profile is not None
    assert profile["first_name"] == "Ana"
    assert profile["phone_number"] == "+33612345678"
    assert profile["location"] == {"zip": "75011"}
    # The locale is Klaviyo's profile attribute, not a custom property.
    assert profile["locale"] == "en"
    assert "locale" not in profile["properties"]
    assert profile["properties"]["birthday_month"] == 3
    assert profile["properties"]["email_consent_captured_at"] == CAPTURED_AT
    assert profile["properties"]["email_consent_wording"] == f"#12 {WORDING_HASH} (en)"
    email = fake.subscriptions["ana@shop.test"]["email"]
    assert email["consent"] == "SUBSCRIBED"
    assert datetime.fromisoformat(email["consented_at"]) == datetime.fromisoformat(CAPTURED_AT)
    assert email["custom_source"] == "CustomerInfo Paris 11: email wording #12 9f86d081884c"
    assert fake.lists[LIST_ID]["members"] == {"ana@shop.test"}
    assert [request.path for request in fake.requests] == [
        "/api/profile-import",
        "/api/profile-subscription-bulk-create-jobs",
    ]
    assert {request.headers["revision"] for request in fake.requests} == {REVISION}


def test_the_same_contact_twice_makes_one_profile(fake: FakeKlaviyo, http: httpx.Client) -> None:
    provider = provider_for(fake, http)

    first = provider.send([contact(1)])
    second = provider.send([contact(1)])
    third = provider.send([contact(2, email="Ana@Shop.TEST", first_name="Anna")])

    assert {first[1].verdict, second[1].verdict, third[2].verdict} == {Verdict.DELIVERED}
    assert fake.creates == 1
    assert len(fake.contacts) == 1
    assert fake.profile_of("ana@shop.test")["first_name"] == "Anna"


def test_no_consent_imports_the_profile_without_subscribing(
    fake: FakeKlaviyo, http: httpx.Client
) -> None:
    refused = contact(1, consents=(consent(granted=False), consent("sms", granted=False)))

    results = provider_for(fake, http).send([refused])

    assert results[1].verdict is Verdict.DELIVERED
    assert fake.profile("ana@shop.test") is not None
    assert fake.jobs == []
    assert fake.subscriptions == {}
    assert fake.lists[LIST_ID]["members"] == set()


def test_sms_is_subscribed_only_when_granted_and_a_phone_exists(
    fake: FakeKlaviyo, http: httpx.Client
) -> None:
    email_only = contact(1, consents=(consent(), consent("sms", granted=False)))
    both = contact(
        2, email="bo@shop.test", phone="+33698765432", consents=(consent(), consent("sms"))
    )
    no_phone = contact(3, email="cy@shop.test", phone="", consents=(consent(), consent("sms")))

    results = provider_for(fake, http).send([email_only, both, no_phone])

    assert {result.verdict for result in results.values()} == {Verdict.DELIVERED}
    assert subscribed_channels(fake, "ana@shop.test") == {"email": "SUBSCRIBED"}
    assert subscribed_channels(fake, "bo@shop.test") == {
        "email": "SUBSCRIBED",
        "sms": "SUBSCRIBED",
    }
    assert subscribed_channels(fake, "cy@shop.test") == {"email": "SUBSCRIBED"}
    sms = fake.subscriptions["bo@shop.test"]["sms"]
    assert datetime.fromisoformat(sms["consented_at"]) == datetime.fromisoformat(CAPTURED_AT)


def test_sms_alone_subscribes_the_phone(fake: FakeKlaviyo, http: httpx.Client) -> None:
    results = provider_for(fake, http).send(
        [contact(consents=(consent(granted=False), consent("sms")))]
    )

    assert results[1].verdict is Verdict.DELIVERED
    assert subscribed_channels(fake, "ana@shop.test") == {"sms": "SUBSCRIBED"}
    job_profile = fake.jobs[0]["data"]["attributes"]["profiles"]["data"][0]["attributes"]
    assert job_profile["phone_number"] == "+33612345678"


def test_double_opt_in_leaves_confirmation_to_the_list(
    fake: FakeKlaviyo, http: httpx.Client
) -> None:
    fake.lists[LIST_ID]["double_opt_in"] = True

    results = provider_for(fake, http).send([contact(double_opt_in=True)])

    assert results[1].verdict is Verdict.DELIVERED
    job = fake.jobs[0]["data"]["attributes"]
    # Klaviyo refuses consented_at outside a historical import, which would skip confirmation.
    assert job["historical_import"] is False
    assert (
        "consented_at"
        not in job["profiles"]["data"][0]["attributes"]["subscriptions"]["email"]["marketing"]
    )
    assert subscribed_channels(fake, "ana@shop.test") == {"email": "PENDING"}
    assert fake.lists[LIST_ID]["members"] == set()


def test_a_capture_time_ahead_of_the_clock_is_not_in_the_future(
    fake: FakeKlaviyo, http: httpx.Client
) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    results = provider_for(fake, http).send(
        [contact(captured_at=tomorrow, consents=(consent(captured_at=tomorrow),))]
    )

    assert results[1].verdict is Verdict.DELIVERED
    consented_at = fake.subscriptions["ana@shop.test"]["email"]["consented_at"]
    assert datetime.fromisoformat(consented_at) <= datetime.now(UTC)


def test_a_failed_subscription_is_the_contacts_result_and_the_retry_creates_nothing(
    fake: FakeKlaviyo, http: httpx.Client
) -> None:
    provider = provider_for(fake, http)
    fake.windows[SUBSCRIPTION_JOBS] = [RateWindow(limit=0, seconds=30)]

    first = provider.send([contact()])

    assert first[1].verdict is Verdict.RETRY
    assert first[1].status_code == 429
    assert first[1].retry_after is not None
    assert fake.profile("ana@shop.test") is not None
    assert fake.subscriptions == {}

    fake.windows[SUBSCRIPTION_JOBS] = [RateWindow(limit=75, seconds=1)]
    retried = provider.send([contact()])

    assert retried[1].verdict is Verdict.DELIVERED
    assert fake.creates == 1
    assert subscribed_channels(fake, "ana@shop.test") == {"email": "SUBSCRIBED"}


def test_each_contact_gets_its_own_result(fake: FakeKlaviyo, http: httpx.Client) -> None:
    results = provider_for(fake, http).send(
        [
            contact(1),
            contact(2, email="bo@shop.test", phone="12345"),
            contact(3, email="cy@shop.test", phone=""),
        ]
    )

    assert results[1].verdict is Verdict.DELIVERED
    assert results[2].verdict is Verdict.PERMANENT
    assert results[3].verdict is Verdict.DELIVERED
    assert fake.profile("bo@shop.test") is None


def test_429_is_retried_after_what_klaviyo_asks(fake: FakeKlaviyo, http: httpx.Client) -> None:
    fake.force(
        Reply(
            429,
            {"errors": [{"status": 429, "code": "throttled", "title": "Request was throttled."}]},
            {"Retry-After": "12"},
        )
    )

    results = provider_for(fake, http).send([contact()])

    assert results[1].verdict is Verdict.RETRY
    assert results[1].retry_after == 12.0
    assert results[1].message == "Request was throttled."


def test_the_burst_window_answers_429_with_retry_after(
    fake: FakeKlaviyo, http: httpx.Client
) -> None:
    fake.windows["profile-import"] = [RateWindow(limit=1, seconds=1)]

    results = provider_for(fake, http).send([contact(1), contact(2, email="bo@shop.test")])

    assert results[1].verdict is Verdict.DELIVERED
    assert results[2].verdict is Verdict.RETRY
    assert results[2].retry_after == 1.0


def test_500_is_retried(fake: FakeKlaviyo, http: httpx.Client) -> None:
    fake.force(Reply(503, {"errors": [{"status": 503, "title": "Service unavailable."}]}))

    results = provider_for(fake, http).send([contact()])

    assert results[1].verdict is Verdict.RETRY
    assert results[1].status_code == 503


def test_a_timeout_is_retried(fake: FakeKlaviyo) -> None:
    fake.delay = 0.6
    with http_client(timeout=0.2) as impatient:
        results = provider_for(fake, impatient).send([contact()])

    assert results[1].verdict is Verdict.RETRY
    assert results[1].message == "The CRM did not answer in time."


def test_a_down_server_is_retried(fake: FakeKlaviyo, http: httpx.Client) -> None:
    fake.down = True

    results = provider_for(fake, http).send([contact()])

    assert results[1].verdict is Verdict.RETRY
    assert results[1].message.startswith("Could not reach the CRM")


def test_a_wrong_key_breaks_the_destination(fake: FakeKlaviyo, http: httpx.Client) -> None:
    results = provider_for(fake, http, api_key="pk_revoked").send([contact()])

    assert results[1].verdict is Verdict.BROKEN
    assert results[1].status_code == 401
    assert results[1].message == (
        "Authentication credentials were not provided. Missing or invalid private key. (/data/)"
    )
    assert fake.contacts == {}


def test_403_breaks_the_destination(fake: FakeKlaviyo, http: httpx.Client) -> None:
    fake.force(
        Reply(403, {"errors": [{"code": "permission_denied", "title": "Permission denied."}]})
    )

    results = provider_for(fake, http).send([contact()])

    assert results[1].verdict is Verdict.BROKEN
    assert results[1].status_code == 403


def test_a_missing_list_breaks_the_destination(fake: FakeKlaviyo, http: httpx.Client) -> None:
    results = provider_for(fake, http, list_id="Gone12").send([contact()])

    assert results[1].verdict is Verdict.BROKEN
    assert results[1].status_code == 404
    assert "A list with id Gone12 does not exist." in results[1].message


def test_400_is_permanent_with_klaviyos_detail(fake: FakeKlaviyo, http: httpx.Client) -> None:
    results = provider_for(fake, http).send([contact(phone="0612345678")])

    assert results[1].verdict is Verdict.PERMANENT
    assert results[1].status_code == 400
    assert results[1].message == (
        "Invalid input. Invalid phone number format (Example of a valid phone number format: "
        "+12345678901) (/data/attributes/phone_number)"
    )


def test_the_fake_rejects_requests_without_revision(fake: FakeKlaviyo) -> None:
    body = {"data": {"type": "profile", "attributes": {"email": "ana@shop.test"}}}
    authorization = {"Authorization": f"Klaviyo-API-Key {API_KEY}"}

    missing = httpx.post(f"{fake.url}/api/profile-import", json=body, headers=authorization)
    present = httpx.post(
        f"{fake.url}/api/profile-import",
        json=body,
        headers={**authorization, "revision": REVISION},
    )

    assert missing.status_code == 400
    assert missing.json()["errors"][0]["code"] == "invalid"
    assert "revision" in missing.json()["errors"][0]["detail"]
    assert present.status_code == 201
    assert fake.creates == 1


def test_the_fake_rejects_consented_at_outside_a_historical_import(fake: FakeKlaviyo) -> None:
    profile = {
        "type": "profile",
        "attributes": {
            "email": "ana@shop.test",
            "subscriptions": {
                "email": {"marketing": {"consent": "SUBSCRIBED", "consented_at": CAPTURED_AT}}
            },
        },
    }
    body = {
        "data": {
            "type": "profile-subscription-bulk-create-job",
            "attributes": {"profiles": {"data": [profile]}},
        }
    }

    response = httpx.post(
        f"{fake.url}/api/profile-subscription-bulk-create-jobs",
        json=body,
        headers={"Authorization": f"Klaviyo-API-Key {API_KEY}", "revision": REVISION},
    )

    assert response.status_code == 400
    assert "historical_import" in response.json()["errors"][0]["detail"]
    assert fake.subscriptions == {}


def test_configuration_errors() -> None:
    assert KlaviyoProvider.configuration_errors(settings={}, credentials={}) == {
        "list_id": [{"code": "required", "message": "This is required."}],
        "api_key": [{"code": "required", "message": "This is required."}],
    }
    errors = KlaviyoProvider.configuration_errors(
        settings={"list_id": LIST_ID}, credentials={"api_key": "AbC123"}
    )
    assert set(errors) == {"api_key"}
    # The API address is read by crm_sync.endpoints, like every URL a retailer types.
    assert KlaviyoProvider.url_settings == {"base_url": UrlRole.API_BASE}
    assert errors["api_key"][0]["code"] == "invalid"
    assert (
        KlaviyoProvider.configuration_errors(
            settings={"list_id": LIST_ID}, credentials={"api_key": API_KEY}
        )
        == {}
    )


def test_the_rate_limit_is_55_percent_of_the_steady_limit() -> None:
    assert round(KlaviyoProvider.rate_limit.per_second * 60) == 385
    assert KlaviyoProvider.batch_size == 1


def test_connection_ok(fake: FakeKlaviyo, http: httpx.Client) -> None:
    result = provider_for(fake, http).test_connection()

    assert result.verdict is Verdict.DELIVERED
    assert fake.requests[-1].path == f"/api/lists/{LIST_ID}"


def test_connection_with_bad_credentials(fake: FakeKlaviyo, http: httpx.Client) -> None:
    result = provider_for(fake, http, api_key="pk_revoked").test_connection()

    assert result.verdict is Verdict.BROKEN
    assert result.status_code == 401


def test_connection_with_a_missing_list(fake: FakeKlaviyo, http: httpx.Client) -> None:
    result = provider_for(fake, http, list_id="Gone12").test_connection()

    assert result.verdict is Verdict.BROKEN
    assert "A list with id Gone12 does not exist." in result.message
