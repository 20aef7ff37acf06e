"""The fakes hold the vendors to their published contracts: what each refuses, the shapes of its
answers, and where each vendored schema comes from."""

import json
from typing import Any

import httpx
import pytest

from .fakes.hubspot import TOKEN, FakeHubSpot
from .fakes.mailchimp import API_KEY, LIST_ID, FakeMailchimp, subscriber_hash
from .fakes.schemas import SPECS, spec

UPSERT = "POST /crm/v3/objects/contacts/batch/upsert"
MEMBER = "PUT /3.0/lists/{list_id}/members/{subscriber_hash}"


@pytest.mark.parametrize("vendor", ["hubspot", "klaviyo", "mailchimp", "salesforce"])
def test_every_vendored_excerpt_says_where_it_comes_from(vendor: str) -> None:
    header = spec(vendor).header
    assert header["source"]
    for entry in header["files"]:
        assert entry["path"]
        assert entry.get("commit") or entry.get("version")
    # Every operation's schemas are in the excerpt.
    for operation, entry in spec(vendor).document["operations"].items():
        names = [entry.get("request"), *entry["responses"].values()]
        for name in filter(None, names):
            assert name in spec(vendor).document["components"]["schemas"], (operation, name)


def test_the_excerpts_stay_small() -> None:
    for path in SPECS.glob("*.json"):
        assert len(path.read_bytes()) < 16_000, path.name
        json.loads(path.read_text())


def hubspot_upsert(hubspot: FakeHubSpot, properties: dict[str, Any]) -> httpx.Response:
    body = {
        "inputs": [
            {
                "id": "ana@shop.test",
                "idProperty": "email",
                "objectWriteTraceId": "1",
                "properties": properties,
            }
        ]
    }
    return httpx.post(
        hubspot.url + "/crm/v3/objects/contacts/batch/upsert",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )


@pytest.mark.parametrize(
    ("properties", "status", "code"),
    [
        ({"interests": "['shoes', 'bags']"}, 207, "INVALID_OPTION"),
        ({"vip": "True"}, 207, "INVALID_BOOLEAN"),
        ({"household_size": "three"}, 207, "INVALID_DOUBLE"),
        ({"first_visit": "03-07"}, 207, "INVALID_DATE"),
        ({"vip": True}, 400, None),
        ({"interests": ["shoes", "bags"]}, 400, None),
    ],
)
def test_hubspot_refuses_values_its_property_types_refuse(
    properties: dict[str, Any], status: int, code: str | None
) -> None:
    with FakeHubSpot() as hubspot:
        assert isinstance(hubspot, FakeHubSpot)
        hubspot.property_add("interests", "enumeration", "checkbox", "shoes", "bags")
        hubspot.property_add("vip", "bool", "booleancheckbox", "true", "false")
        hubspot.property_add("household_size", "number", "number")
        hubspot.property_add("first_visit", "date", "date")

        response = hubspot_upsert(hubspot, properties)

        assert response.status_code == status
        body = response.json()
        assert spec("hubspot").response_errors(UPSERT, status, body) == []
        if code is not None:
            assert body["errors"][0]["errors"][0]["code"] == code
            assert body["results"] == []
        else:
            assert body["category"] == "VALIDATION_ERROR"
        assert hubspot.contacts == {}


def test_hubspot_answers_have_the_published_shapes() -> None:
    with FakeHubSpot() as hubspot:
        assert isinstance(hubspot, FakeHubSpot)
        written = hubspot_upsert(hubspot, {"firstname": "Ana"})
        listed = httpx.get(
            hubspot.url + "/crm/v3/properties/contacts",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )

        assert written.status_code == 200
        assert spec("hubspot").response_errors(UPSERT, 200, written.json()) == []
        properties = "GET /crm/v3/properties/contacts"
        assert spec("hubspot").response_errors(properties, 200, listed.json()) == []


def mailchimp_put(mailchimp: FakeMailchimp, merge_fields: dict[str, Any]) -> httpx.Response:
    return httpx.put(
        f"{mailchimp.url}/3.0/lists/{LIST_ID}/members/{subscriber_hash('ana@shop.test')}",
        json={
            "email_address": "ana@shop.test",
            "status_if_new": "subscribed",
            "merge_fields": merge_fields,
        },
        auth=("any", API_KEY),
    )


@pytest.mark.parametrize(
    ("merge_fields", "field"),
    [
        ({"INTERESTS": ["shoes", "bags"]}, "INTERESTS"),
        ({"VIP": True}, "VIP"),
        ({"BIRTHDAY": "03-07"}, "BIRTHDAY"),
        ({"HOUSEHOLD": "three"}, "HOUSEHOLD"),
        ({"PHONE": "+33612345678"}, "PHONE"),
    ],
)
def test_mailchimp_refuses_values_its_merge_fields_refuse(
    merge_fields: dict[str, Any], field: str
) -> None:
    with FakeMailchimp() as mailchimp:
        assert isinstance(mailchimp, FakeMailchimp)
        mailchimp.merge_field_add("INTERESTS", "text")
        mailchimp.merge_field_add("VIP", "text")
        mailchimp.merge_field_add("HOUSEHOLD", "number")
        mailchimp.merge_field_add("PHONE", "phone", phone_format="US")

        response = mailchimp_put(mailchimp, merge_fields)

        assert response.status_code == 400
        problem = response.json()
        assert spec("mailchimp").response_errors(MEMBER, 400, problem) == []
        assert problem["title"] == "Invalid Resource"
        assert [error["field"] for error in problem["errors"]] == [field]
        assert mailchimp.contacts == {}
