"""The fake's front door, through the real StripeClient: keys, versions, idempotency, 429s."""

import pytest
import stripe
from stripe import StripeClient

from billing.stripe_fake import API_VERSION, StripeFake
from billing.stripe_fake import catalog as catalog_module

from .support import DAY, Catalog, browser, checkout


def test_the_fake_speaks_the_api_version_stripe_python_pins() -> None:
    assert stripe.api_version == API_VERSION


def test_a_request_without_a_key_or_with_a_live_key_is_refused(stripe_fake: StripeFake) -> None:
    nameless = browser().get(f"{stripe_fake.url}/v1/customers")
    assert nameless.status_code == 401
    error = nameless.json()["error"]
    assert set(error) >= {"type", "code", "message", "param"}
    assert "did not provide an API key" in error["message"]

    live = StripeClient("sk_live_real", base_addresses={"api": stripe_fake.url})
    with pytest.raises(stripe.AuthenticationError, match="test keys only"):
        live.v1.customers.list()


def test_basic_auth_with_the_key_as_user_works_as_with_curl(stripe_fake: StripeFake) -> None:
    answer = browser().get(f"{stripe_fake.url}/v1/customers", auth=("sk_test_curl", ""))
    assert answer.status_code == 200
    assert answer.json()["object"] == "list"
    garbled = browser().get(
        f"{stripe_fake.url}/v1/customers", headers={"Authorization": "Basic !!!not-base64"}
    )
    assert garbled.status_code == 401


def test_stripe_version_and_idempotency_key_are_recorded(
    stripe_fake: StripeFake, stripe_client: StripeClient
) -> None:
    stripe_client.v1.customers.create(params={"email": "a@alice.example"})
    pinned = StripeClient(
        "sk_test_fake", base_addresses={"api": stripe_fake.url}, stripe_version="2025-03-31.basil"
    )
    answer = pinned.v1.customers.list()

    first, second = stripe_fake.requests
    assert (first.method, first.path, first.stripe_version) == (
        "POST",
        "/v1/customers",
        API_VERSION,
    )
    assert first.idempotency_key  # stripe-python sends one on every POST
    assert (second.stripe_version, second.idempotency_key) == ("2025-03-31.basil", None)
    assert answer.last_response is not None
    assert answer.last_response.headers["Stripe-Version"] == "2025-03-31.basil"


def test_an_unknown_path_or_parameter_is_refused_as_stripe_refuses_it(
    stripe_fake: StripeFake, stripe_client: StripeClient
) -> None:
    answer = browser().get(f"{stripe_fake.url}/v1/nothing", auth=("sk_test_x", ""))
    assert answer.status_code == 404
    assert "Unrecognized request URL (GET: /v1/nothing)" in answer.json()["error"]["message"]

    typo = browser().post(
        f"{stripe_fake.url}/v1/customers", data={"emial": "a@alice.example"}, auth=("sk_test_x", "")
    )
    assert typo.status_code == 400
    assert typo.json()["error"]["code"] == "parameter_unknown"
    assert typo.json()["error"]["param"] == "emial"
    assert not stripe_client.v1.customers.list().data


def test_the_same_idempotency_key_replays_the_first_answer(
    stripe_fake: StripeFake, stripe_client: StripeClient
) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "signup-42"}
    first = stripe_client.v1.customers.create(params={"email": "a@alice.example"}, options=options)
    again = stripe_client.v1.customers.create(params={"email": "a@alice.example"}, options=options)

    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(stripe_client.v1.customers.list().data) == 1
    assert [e["type"] for e in stripe_fake.events()] == ["customer.created"]


def test_the_same_key_with_other_parameters_is_an_idempotency_error(
    stripe_client: StripeClient,
) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "signup-43"}
    stripe_client.v1.customers.create(params={"email": "a@alice.example"}, options=options)
    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        stripe_client.v1.customers.create(params={"email": "b@alice.example"}, options=options)


def test_an_idempotency_key_is_forgotten_after_24_hours(
    stripe_fake: StripeFake, stripe_client: StripeClient
) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "signup-44"}
    first = stripe_client.v1.customers.create(params={"email": "a@alice.example"}, options=options)
    stripe_fake.advance(DAY + 1)
    later = stripe_client.v1.customers.create(params={"email": "b@alice.example"}, options=options)
    assert later.id != first.id


def test_a_lock_timeout_429_is_retried_by_stripe_python_with_the_same_key(
    stripe_fake: StripeFake, stripe_client: StripeClient
) -> None:
    stripe_fake.force_429(1, "lock_timeout")
    customer = stripe_client.v1.customers.create(params={"email": "a@alice.example"})

    refused, accepted = stripe_fake.requests
    assert (refused.status, accepted.status) == (429, 200)
    assert refused.idempotency_key == accepted.idempotency_key is not None
    assert len(stripe_client.v1.customers.list().data) == 1
    assert customer.email == "a@alice.example"


def test_a_rate_limit_429_is_left_to_the_caller_whose_retry_then_succeeds(
    stripe_fake: StripeFake, stripe_client: StripeClient
) -> None:
    stripe_fake.force_429(1)
    options: stripe.RequestOptions = {"idempotency_key": "report-7"}
    with pytest.raises(stripe.RateLimitError) as limited:
        stripe_client.v1.customers.create(params={"email": "a@alice.example"}, options=options)
    assert limited.value.http_status == 429
    assert limited.value.headers is not None
    assert limited.value.headers["Retry-After"] == "1"
    body = limited.value.json_body
    assert isinstance(body, dict)
    assert body["error"]["code"] == "rate_limit"
    assert [r.status for r in stripe_fake.requests] == [429]  # stripe-python did not retry

    retried = stripe_client.v1.customers.create(
        params={"email": "a@alice.example"}, options=options
    )
    assert retried.email == "a@alice.example"
    assert len(stripe_client.v1.customers.list().data) == 1


def test_a_per_second_rate_limit_refuses_the_excess(stripe_fake: StripeFake) -> None:
    stripe_fake.set_rate_limit(2)
    statuses = [
        browser().get(f"{stripe_fake.url}/v1/customers", auth=("sk_test_x", "")).status_code
        for _ in range(4)
    ]
    assert statuses[:2] == [200, 200]
    assert 429 in statuses[2:]
    stripe_fake.set_rate_limit(None)
    assert (
        browser().get(f"{stripe_fake.url}/v1/customers", auth=("sk_test_x", "")).status_code == 200
    )


def test_lists_page_with_limit_and_starting_after(stripe_client: StripeClient) -> None:
    made = [
        stripe_client.v1.customers.create(params={"email": f"{n}@alice.example"}) for n in range(3)
    ]
    first = stripe_client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in first.data] == [made[2].id, made[1].id]
    assert first.has_more
    rest = stripe_client.v1.customers.list(params={"limit": 2, "starting_after": made[1].id})
    assert [c.id for c in rest.data] == [made[0].id]
    assert not rest.has_more
    assert [c.id for c in stripe_client.v1.customers.list().auto_paging_iter()] == [
        m.id for m in reversed(made)
    ]


def test_expand_inlines_what_an_id_names(
    stripe_client: StripeClient, stripe_fake: StripeFake, catalog: Catalog
) -> None:
    _, sub = checkout(stripe_client, catalog)
    expanded = stripe_client.v1.subscriptions.retrieve(
        sub.id, params={"expand": ["latest_invoice", "customer", "items.data.price.tiers"]}
    )
    assert isinstance(expanded.latest_invoice, stripe.Invoice)
    assert isinstance(expanded.customer, stripe.Customer)
    usage_item = next(i for i in expanded["items"].data if i.price.id == catalog.usage.id)
    assert usage_item.price.tiers is not None
    assert [t.up_to for t in usage_item.price.tiers] == [100, None]
    with pytest.raises(stripe.InvalidRequestError, match="cannot be expanded"):
        stripe_client.v1.subscriptions.retrieve(sub.id, params={"expand": ["nothing"]})


def test_a_failure_inside_the_fake_is_a_500_that_its_idempotency_key_replays(
    stripe_fake: StripeFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []

    def broken(*args: object) -> None:
        calls.append(args)
        raise RuntimeError("bug")

    monkeypatch.setattr(catalog_module, "customer_create", broken)
    client = StripeClient("sk_test_fake", base_addresses={"api": stripe_fake.url})
    options: stripe.RequestOptions = {"idempotency_key": "boom"}
    for _ in range(2):
        with pytest.raises(stripe.APIError) as failed:
            client.v1.customers.create(params={"email": "a@alice.example"}, options=options)
        assert failed.value.http_status == 500
    assert len(calls) == 1
    assert [r.replayed for r in stripe_fake.requests] == [False, True]


def test_a_missing_object_is_resource_missing(stripe_client: StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.customers.retrieve("cus_nobody")
    assert missing.value.http_status == 404
    assert missing.value.code == "resource_missing"
