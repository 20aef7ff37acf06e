"""Mailchimp: consent given on a later visit raises an existing member's status (never lowers
it), and a PHONE merge field in US format gets the number in its format or goes without it,
with the reason recorded. Every PUT is checked against the SDK's request type."""

from collections.abc import Iterator

import httpx
import pytest

from crm_sync.providers.base import Verdict
from crm_sync.providers.mailchimp import phone_text

from .fakes.mailchimp import FakeMailchimp
from .fakes.schemas import spec
from .test_providers_mailchimp import consent, contact, provider_for

UPSERT = "PUT /3.0/lists/{list_id}/members/{subscriber_hash}"


@pytest.fixture
def fake() -> Iterator[FakeMailchimp]:
    with FakeMailchimp() as server:
        assert isinstance(server, FakeMailchimp)
        yield server


def statuses_sent(fake: FakeMailchimp) -> list[str | None]:
    for request in fake.requests:
        assert spec("mailchimp").request_errors(UPSERT, request.json()) == []
    return [request.json().get("status") for request in fake.requests]


@pytest.mark.parametrize(
    ("before", "double_opt_in", "after"),
    [
        ("transactional", False, "subscribed"),
        ("transactional", True, "pending"),
        ("pending", False, "subscribed"),
        ("unsubscribed", False, "pending"),
    ],
)
def test_consent_on_a_later_visit_raises_the_members_status(
    fake: FakeMailchimp, http: httpx.Client, before: str, double_opt_in: bool, after: str
) -> None:
    fake.member_add("ana@shop.test", status=before)

    results = provider_for(fake, http).send([contact(double_opt_in=double_opt_in)])

    assert results[1].verdict is Verdict.DELIVERED
    assert results[1].message == f"Status raised from {before} to {after}."
    assert fake.member_of("ana@shop.test")["status"] == after
    # The first PUT never sends status (it would lower a subscribed member); the second raises.
    assert statuses_sent(fake) == [None, after]


@pytest.mark.parametrize(
    ("before", "double_opt_in"),
    [("subscribed", True), ("subscribed", False), ("pending", True), ("cleaned", False)],
)
def test_a_status_is_never_lowered_nor_a_cleaned_address_touched(
    fake: FakeMailchimp, http: httpx.Client, before: str, double_opt_in: bool
) -> None:
    fake.member_add("ana@shop.test", status=before)

    results = provider_for(fake, http).send([contact(double_opt_in=double_opt_in)])

    assert results[1].verdict is Verdict.DELIVERED
    assert fake.member_of("ana@shop.test")["status"] == before
    assert statuses_sent(fake) == [None]


def test_a_sign_up_without_consent_raises_nothing(fake: FakeMailchimp, http: httpx.Client) -> None:
    fake.member_add("ana@shop.test", status="transactional")

    provider_for(fake, http).send([contact(consents=(consent(granted=False),))])

    assert fake.member_of("ana@shop.test")["status"] == "transactional"
    assert statuses_sent(fake) == [None]


def test_the_first_visit_without_consent_then_the_second_with_it(
    fake: FakeMailchimp, http: httpx.Client
) -> None:
    provider = provider_for(fake, http)

    provider.send([contact(1, consents=(consent(granted=False),))])
    assert fake.member_of("ana@shop.test")["status"] == "transactional"
    provider.send([contact(2)])

    member = fake.member_of("ana@shop.test")
    assert member["status"] == "subscribed"
    assert member["timestamp_opt"] == "2025-03-14T09:26:53+00:00"


def test_a_north_american_number_goes_in_the_us_format(
    fake: FakeMailchimp, http: httpx.Client
) -> None:
    fake.merge_field_add("PHONE", "phone", phone_format="US")

    results = provider_for(fake, http).send([contact(phone="+12125550123")])

    assert results[1].verdict is Verdict.DELIVERED
    assert results[1].message == ""
    assert fake.member_of("ana@shop.test")["merge_fields"]["PHONE"] == "212-555-0123"


def test_a_us_format_phone_field_goes_without_a_foreign_number_with_the_reason(
    fake: FakeMailchimp, http: httpx.Client
) -> None:
    fake.merge_field_add("PHONE", "phone", phone_format="US")

    results = provider_for(fake, http).send([contact(phone="+33612345678")])

    assert results[1].verdict is Verdict.DELIVERED
    assert results[1].message == (
        "Delivered, leaving out PHONE: Invalid Resource: Your merge fields were invalid. "
        "(PHONE: Please enter a valid US phone number (###-###-####).)"
    )
    member = fake.member_of("ana@shop.test")
    assert member["status"] == "subscribed"
    assert "PHONE" not in member["merge_fields"]
    assert member["merge_fields"]["FNAME"] == "Ana"


def test_phone_text() -> None:
    assert phone_text("+12125550123") == "212-555-0123"
    assert phone_text("+33612345678") == "+33612345678"
    assert phone_text("+121255501234") == "+121255501234"
