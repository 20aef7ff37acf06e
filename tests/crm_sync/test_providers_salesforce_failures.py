"""The Salesforce provider when things go wrong: request limits, server and network errors,
tokens that expire or are refused, an org that lacks what the destination needs. Each ends in
the verdict that decides what happens to the delivery: retry, permanent, or a broken destination.
"""

import httpx

from crm_sync.http import http_client
from crm_sync.providers.base import Result, Verdict
from tests.crm_sync.fakes.salesforce import FakeSalesforce
from tests.crm_sync.fakes.server import RateWindow, Reply

from .support import (
    consent,
    contact,
    provider,
    submission_id,
    verdicts,
)


def test_request_limit_exceeded_waits_and_does_not_break(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    org.api_limit = RateWindow(limit=1, seconds=24 * 3600)
    salesforce = provider(org, http)
    assert salesforce.send([contact(1, "ada@example.com")])[1].verdict == Verdict.DELIVERED

    results = salesforce.send([contact(2, "grace@example.com"), contact(3, "m@example.com")])

    assert verdicts(results) == {2: Verdict.RETRY, 3: Verdict.RETRY}
    assert results[2].status_code == 403
    assert results[2].retry_after == 3600.0
    assert results[2].message == "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded."


def test_request_limit_exceeded_honours_retry_after_when_sent(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    salesforce = provider(org, http)
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


def test_server_error_retries(org: FakeSalesforce, http: httpx.Client) -> None:
    salesforce = provider(org, http)
    salesforce.send([contact(1, "ada@example.com")])
    org.force(Reply(500, [{"errorCode": "UNKNOWN_EXCEPTION", "message": "An error occurred"}]))

    result = salesforce.send([contact(2, "grace@example.com")])[2]

    assert (result.verdict, result.status_code) == (Verdict.RETRY, 500)
    assert submission_id(2) not in org.leads


def test_token_endpoint_error_retries(org: FakeSalesforce, http: httpx.Client) -> None:
    org.force(Reply(503, {"error": "server_unavailable"}))

    result = provider(org, http).send([contact(1, "ada@example.com")])[1]

    assert (result.verdict, result.status_code) == (Verdict.RETRY, 503)


def test_timeout_retries(org: FakeSalesforce) -> None:
    org.delay = 0.5
    with http_client(timeout=0.2) as short_client:
        result = provider(org, short_client).send([contact(1, "ada@example.com")])[1]

    assert result.verdict == Verdict.RETRY
    assert result.message == "The CRM did not answer in time."


def test_down_server_retries(org: FakeSalesforce, http: httpx.Client) -> None:
    org.down = True

    result = provider(org, http).send([contact(1, "ada@example.com")])[1]

    assert result.verdict == Verdict.RETRY
    assert result.message.startswith("Could not reach the CRM")


def test_an_expired_token_is_renewed_transparently(org: FakeSalesforce, http: httpx.Client) -> None:
    salesforce = provider(org, http)
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
    org: FakeSalesforce, http: httpx.Client
) -> None:
    salesforce = provider(org, http)
    salesforce.send([contact(1, "ada@example.com")])
    org.expire_tokens()
    org.kill_sessions = True

    results = salesforce.send([contact(2, "grace@example.com"), contact(3, "m@example.com")])

    assert verdicts(results) == {2: Verdict.BROKEN, 3: Verdict.BROKEN}
    assert results[2].message == "INVALID_SESSION_ID: Session expired or invalid"
    # Renewed once, not in a loop.
    assert org.token_requests == 2


def test_revoked_client_credentials_break_the_destination(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    salesforce = provider(org, http)
    salesforce.send([contact(1, "ada@example.com")])
    org.revoke_client()

    result = salesforce.send([contact(2, "grace@example.com")])[2]

    assert (result.verdict, result.status_code) == (Verdict.BROKEN, 400)
    assert "invalid_client" in result.message


def test_forbidden_breaks_the_destination(org: FakeSalesforce, http: httpx.Client) -> None:
    salesforce = provider(org, http)
    salesforce.send([contact(1, "ada@example.com")])
    org.force(Reply(403, [{"errorCode": "INSUFFICIENT_ACCESS", "message": "no access"}]))

    result = salesforce.send([contact(2, "grace@example.com")])[2]

    assert (result.verdict, result.status_code) == (Verdict.BROKEN, 403)


def test_a_field_the_org_lacks_breaks_the_destination(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    org.field_remove("CustomerInfo_Email_Consent_Wording__c")
    shopper = contact(1, "ada@example.com", consents=(consent("email", granted=True),))

    result = provider(org, http).send([shopper])[1]

    assert (result.verdict, result.status_code) == (Verdict.BROKEN, 400)
    assert "CustomerInfo_Email_Consent_Wording__c" in result.message


def test_an_unknown_external_id_field_breaks_the_destination(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    result = provider(org, http, external_id_field="Shopper_Id__c").send(
        [contact(1, "ada@example.com")]
    )[1]

    assert (result.verdict, result.status_code) == (Verdict.BROKEN, 404)
    assert "Shopper_Id__c" in result.message


def test_a_malformed_request_is_permanent_for_the_whole_batch(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    salesforce = provider(org, http)
    salesforce.send([contact(1, "ada@example.com")])
    org.force(Reply(400, [{"errorCode": "JSON_PARSER_ERROR", "message": "Cannot deserialize"}]))

    results = salesforce.send([contact(2, "grace@example.com"), contact(3, "mary@example.com")])

    # Salesforce named no lead: the sender splits the batch to find the one at fault.
    refused = Result(
        Verdict.PERMANENT, 400, "JSON_PARSER_ERROR: Cannot deserialize", whole_batch=True
    )
    assert results == {2: refused, 3: refused}


def test_a_success_without_the_list_of_results_is_not_taken_as_delivered(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    salesforce = provider(org, http)
    salesforce.send([contact(1, "ada@example.com")])
    org.force(Reply(200, {"status": "ok"}))

    result = salesforce.send([contact(2, "grace@example.com")])[2]

    assert (result.verdict, result.status_code) == (Verdict.RETRY, 200)
