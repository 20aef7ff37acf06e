"""Salesforce leads: duplicate rules that block, the Email field's 80 characters, and a fake org
that refuses values of the wrong type as Salesforce does."""

import httpx

from crm_sync.providers.base import Verdict

from .fakes.salesforce import FakeSalesforce
from .fakes.schemas import spec
from .support import contact, provider, submission_id, upserts, verdicts

UPSERT = "PATCH /services/data/{version}/composite/sobjects/Lead/{externalIdField}"


def test_a_blocking_duplicate_rule_is_permanent_with_the_rule_and_the_match_named(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    salesforce = provider(org, http)
    salesforce.send([contact(1, "ada@example.com")])
    existing = org.lead(submission_id(1))["Id"]
    org.duplicate_rule = "Block_Lead_Duplicates"

    results = salesforce.send([contact(2, "ada@example.com"), contact(3, "grace@example.com")])

    assert verdicts(results) == {2: Verdict.PERMANENT, 3: Verdict.DELIVERED}
    assert results[2].message == (
        "DUPLICATES_DETECTED: Salesforce's duplicate rule Block_Lead_Duplicates blocked this "
        f"lead; it matches {existing}. Nothing was written. Set the rule to Allow (with an "
        "alert) for the integration user, then replay."
    )
    # Not delivered: nothing of this sign-up (its consent answer included) reached Salesforce.
    assert submission_id(2) not in org.leads
    assert results[2].whole_batch is False


def test_the_fakes_duplicate_answer_has_salesforces_shape(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    salesforce = provider(org, http)
    salesforce.send([contact(1, "ada@example.com")])
    org.duplicate_rule = "Block_Lead_Duplicates"
    salesforce.send([contact(2, "ada@example.com")])

    request = upserts(org)[-1]
    answer = http.patch(
        f"{org.url}{request.path}",
        json=request.json(),
        headers={"Authorization": request.headers["authorization"]},
    ).json()

    assert spec("salesforce").response_errors(UPSERT, 200, answer) == []
    assert answer[0]["errors"][0]["duplicateResult"]["duplicateRule"] == "Block_Lead_Duplicates"


def test_an_email_longer_than_the_field_is_left_out_not_cut(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    email = "a" * 70 + "@example.com"

    results = provider(org, http).send([contact(1, email)])

    assert results[1].verdict is Verdict.DELIVERED
    assert results[1].message == (
        "created Delivered, leaving out Email: longer than Salesforce's 80 characters."
    )
    assert "Email" not in org.lead(submission_id(1))


def test_a_value_of_the_wrong_json_type_refuses_the_whole_request(
    org: FakeSalesforce, http: httpx.Client
) -> None:
    org.field_add("Vip__c", "boolean")
    salesforce = provider(org, http)
    salesforce.send([contact(1, "ada@example.com")])
    request = upserts(org)[-1]
    body = request.json()
    body["records"][0]["Vip__c"] = "True"

    response = http.patch(
        f"{org.url}{request.path}",
        json=body,
        headers={"Authorization": request.headers["authorization"]},
    )

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert spec("salesforce").response_errors(UPSERT, 400, response.json()) == []


def test_a_python_list_is_refused_by_the_schema(org: FakeSalesforce, http: httpx.Client) -> None:
    org.field_add("Interests__c", "multipicklist", "shoes", "bags")
    salesforce = provider(org, http)
    salesforce.send([contact(1, "ada@example.com")])
    request = upserts(org)[-1]
    body = request.json()
    body["records"][0]["Interests__c"] = ["shoes", "bags"]

    response = http.patch(
        f"{org.url}{request.path}",
        json=body,
        headers={"Authorization": request.headers["authorization"]},
    )

    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert "/records/0/Interests__c" in response.json()[0]["message"]
