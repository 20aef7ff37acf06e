"""Klaviyo: a phone number that is another profile's (409 duplicate_profile), the retailer's
"SMS for shared numbers" and "send welcome flows" settings; every request checked against
Klaviyo's published schema by the fake, and checked again here."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from crm_sync.providers.base import Verdict

from .fakes.klaviyo import LIST_ID, FakeKlaviyo
from .fakes.schemas import spec
from .test_providers_klaviyo import consent, contact, provider_for, subscribed_channels

IMPORT = "POST /api/profile-import"
JOBS = "POST /api/profile-subscription-bulk-create-jobs"
OPERATIONS = {"/api/profile-import": IMPORT, "/api/profile-subscription-bulk-create-jobs": JOBS}


@pytest.fixture
def fake() -> Iterator[FakeKlaviyo]:
    with FakeKlaviyo() as server:
        assert isinstance(server, FakeKlaviyo)
        yield server


def assert_every_request_conforms(fake: FakeKlaviyo) -> None:
    for request in fake.requests:
        operation = OPERATIONS[request.path]
        assert spec("klaviyo").request_errors(operation, request.json()) == [], request.path


def spouse_signed_up(fake: FakeKlaviyo, http: httpx.Client) -> str:
    """Bo signed up first with the household's number; returns Bo's profile id."""
    provider_for(fake, http).send([contact(1, email="bo@shop.test")])
    return str(fake.profile_of("bo@shop.test")["id"])


def test_a_number_of_another_profile_still_subscribes_the_email(
    fake: FakeKlaviyo, http: httpx.Client
) -> None:
    bo = spouse_signed_up(fake, http)
    fake.requests.clear()

    results = provider_for(fake, http).send([contact(2, consents=(consent(), consent("sms")))])

    assert results[2].verdict is Verdict.DELIVERED
    assert results[2].message == (
        f"Delivered, leaving out phone_number: +33612345678 belongs to another Klaviyo profile "
        f"({bo}); kept as the property shared_phone_number. SMS consent: not subscribed, the "
        "number is another profile's (turn on “SMS for shared numbers” to subscribe that "
        "profile)."
    )
    ana = fake.profile_of("ana@shop.test")
    assert "phone_number" not in ana
    assert ana["properties"]["shared_phone_number"] == "+33612345678"
    assert ana["properties"]["shared_phone_profile_id"] == bo
    assert subscribed_channels(fake, "ana@shop.test") == {"email": "SUBSCRIBED"}
    # Bo's SMS is untouched: bo signed up with email consent only.
    assert subscribed_channels(fake, "bo@shop.test") == {"email": "SUBSCRIBED"}
    assert [request.path for request in fake.requests] == [
        "/api/profile-import",
        "/api/profile-import",
        "/api/profile-subscription-bulk-create-jobs",
    ]
    conflict = fake.requests[0]
    assert conflict.json()["data"]["attributes"]["phone_number"] == "+33612345678"
    assert_every_request_conforms(fake)


def test_the_409_is_klaviyos_duplicate_profile_with_the_profile_id(
    fake: FakeKlaviyo, http: httpx.Client
) -> None:
    bo = spouse_signed_up(fake, http)
    body = provider_for(fake, http).profile(contact(2))

    response = http.post(
        fake.url + "/api/profile-import",
        json=body,
        headers=provider_for(fake, http).headers(),
    )

    assert response.status_code == 409
    (error,) = response.json()["errors"]
    assert error["code"] == "duplicate_profile"
    assert error["meta"] == {"duplicate_profile_id": bo}
    assert spec("klaviyo").response_errors(IMPORT, 409, response.json()) == []


def test_sms_for_shared_numbers_subscribes_the_profile_that_holds_the_number(
    fake: FakeKlaviyo, http: httpx.Client
) -> None:
    spouse_signed_up(fake, http)

    results = provider_for(fake, http, shared_phone_sms=True).send(
        [contact(2, consents=(consent(), consent("sms")))]
    )

    assert results[2].verdict is Verdict.DELIVERED
    assert "SMS consent" not in results[2].message
    assert subscribed_channels(fake, "ana@shop.test") == {"email": "SUBSCRIBED"}
    assert subscribed_channels(fake, "bo@shop.test") == {
        "email": "SUBSCRIBED",
        "sms": "SUBSCRIBED",
    }
    profiles = fake.jobs[-1]["data"]["attributes"]["profiles"]["data"]
    assert [profile["attributes"] for profile in profiles] == [
        {"email": "ana@shop.test", "subscriptions": profiles[0]["attributes"]["subscriptions"]},
        {
            "phone_number": "+33612345678",
            "subscriptions": profiles[1]["attributes"]["subscriptions"],
        },
    ]
    assert_every_request_conforms(fake)


def test_a_conflict_without_sms_consent_says_nothing_of_sms(
    fake: FakeKlaviyo, http: httpx.Client
) -> None:
    spouse_signed_up(fake, http)

    results = provider_for(fake, http).send([contact(2)])

    assert results[2].verdict is Verdict.DELIVERED
    assert "phone_number: +33612345678 belongs to another Klaviyo profile" in results[2].message
    assert "SMS" not in results[2].message
    assert subscribed_channels(fake, "ana@shop.test") == {"email": "SUBSCRIBED"}


def test_single_opt_in_is_a_historical_import_by_default(
    fake: FakeKlaviyo, http: httpx.Client
) -> None:
    provider_for(fake, http).send([contact()])

    job = fake.jobs[0]["data"]["attributes"]
    assert job["historical_import"] is True
    marketing = job["profiles"]["data"][0]["attributes"]["subscriptions"]["email"]["marketing"]
    assert "consented_at" in marketing


@pytest.mark.parametrize("list_asks_to_confirm", [False, True])
def test_send_welcome_flows_subscribes_through_the_lists_own_process(
    fake: FakeKlaviyo, http: httpx.Client, list_asks_to_confirm: bool
) -> None:
    fake.lists[LIST_ID]["double_opt_in"] = list_asks_to_confirm

    results = provider_for(fake, http, welcome_flows=True).send([contact()])

    assert results[1].verdict is Verdict.DELIVERED
    job = fake.jobs[0]["data"]["attributes"]
    # Not a historical import: Klaviyo runs the list's "Added to list" flows (and asks a double
    # opt-in list's confirmation); consented_at is refused outside historical imports.
    assert job["historical_import"] is False
    marketing = job["profiles"]["data"][0]["attributes"]["subscriptions"]["email"]["marketing"]
    assert marketing == {"consent": "SUBSCRIBED"}
    expected = "PENDING" if list_asks_to_confirm else "SUBSCRIBED"
    assert subscribed_channels(fake, "ana@shop.test") == {"email": expected}
    # The capture time stays on the profile as evidence.
    properties: dict[str, Any] = fake.profile_of("ana@shop.test")["properties"]
    assert properties["email_consent_captured_at"] == contact().captured_at
    assert_every_request_conforms(fake)


def test_the_fake_refuses_what_klaviyos_schema_refuses(
    fake: FakeKlaviyo, http: httpx.Client
) -> None:
    body = provider_for(fake, http).profile(contact())
    body["data"]["attributes"]["locale"] = 5

    response = http.post(
        fake.url + "/api/profile-import", json=body, headers=provider_for(fake, http).headers()
    )

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["source"]["pointer"] == "/data/attributes/locale"
    assert spec("klaviyo").response_errors(IMPORT, 400, response.json()) == []
