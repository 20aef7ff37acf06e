from typing import Any

import pytest

from customerinfo.core.errors import ServiceError
from signup.definitions import default_definition, definition_validate, text_in_language
from tests.signup.factories import full_definition


def fault_codes(definition: Any) -> dict[str, list[str]]:
    with pytest.raises(ServiceError) as caught:
        definition_validate(definition)
    assert caught.value.code == "invalid_definition"
    return {path: [e["code"] for e in errors] for path, errors in caught.value.fields.items()}


def test_the_default_and_full_definitions_are_valid() -> None:
    assert definition_validate(default_definition())["fields"][0]["key"] == "email"
    definition_validate(full_definition())


def test_a_definition_is_an_object() -> None:
    with pytest.raises(ServiceError, match="JSON object"):
        definition_validate([])


def test_every_mistake_is_listed_with_its_path() -> None:
    definition = full_definition()
    definition["languages"] = ["en", "de"]
    definition["fields"][1]["label"] = {"en": ""}
    definition["fields"].append({"key": "Bad Key", "type": "colour", "label": {"en": "x"}})
    definition["fields"].append({"key": "email", "type": "short_text", "label": {"en": "x"}})
    definition["fields"].append("not a field")
    definition["fields"].append(
        {"key": "pick", "type": "single_choice", "label": {"en": "x"}, "options": [{"value": "a"}]}
    )
    definition["fields"].append(
        {
            "key": "pick2",
            "type": "single_choice",
            "label": {"en": "x"},
            "required": "yes",
            "options": [{"value": "a", "label": {"en": "A"}}, {"value": "a", "label": {"en": ""}}],
        }
    )
    definition["fields"].append({"key": "last_name", "type": "phone", "label": {"en": "x"}})
    definition["consents"]["sms"]["disclosure"] = {"en": ""}
    definition["consents"]["email"] = {"enabled": "maybe"}
    definition["double_opt_in"] = "no"
    definition["texts"] = {"welcome": "hello"}
    definition["branding"] = {"primary_color": "blue", "logo_url": "http://insecure.example/x.png"}
    definition["idle_timeout_seconds"] = 5

    faults = fault_codes(definition)

    assert faults["languages"] == ["invalid"]
    assert faults["fields.1.label.en"] == ["required"]
    assert faults["fields.10.type"] == ["invalid"]
    assert faults["fields.10.key"] == ["invalid"]
    assert faults["fields.11.key"] == ["duplicate"]
    assert faults["fields.12"] == ["invalid"]
    assert faults["fields.13.options"] == ["required"]
    assert faults["fields.14.required"] == ["invalid"]
    assert faults["fields.14.options"] == ["invalid"]
    assert faults["fields.14.options.1.label.en"] == ["required"]
    assert faults["fields.15.key"] == ["invalid", "duplicate"]
    assert faults["consents.sms.disclosure.en"] == ["required"]
    assert faults["consents.email"] == ["invalid"]
    assert faults["double_opt_in"] == ["invalid"]
    assert faults["texts.welcome"] == ["invalid"]
    assert faults["branding.primary_color"] == ["invalid"]
    assert faults["branding.logo_url"] == ["invalid"]
    assert faults["idle_timeout_seconds"] == ["invalid"]


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        (lambda d: d.update(fields=[]), "fields", "required"),
        (lambda d: d["fields"].pop(0), "fields", "email_required"),
        (lambda d: d["fields"][0].update(required=False), "fields", "email_required"),
        (lambda d: d.update(consents={"fax": {}}), "consents", "invalid"),
        (lambda d: d["consents"]["sms"].update(enabled=True), "consents.sms", "phone_required"),
        (lambda d: d.update(branding=[]), "branding", "invalid"),
        (lambda d: d["fields"][0].update(label="Email"), "fields.0.label", "invalid"),
    ],
)
def test_single_mistakes(change: Any, path: str, code: str) -> None:
    definition = default_definition()
    change(definition)
    assert code in fault_codes(definition)[path]


def test_a_text_is_taken_in_the_language_asked_else_english_else_any() -> None:
    texts = {"en": "Hello", "fr": "Bonjour", "es": ""}
    assert text_in_language(texts, "fr") == "Bonjour"
    assert text_in_language(texts, "es") == "Hello"
    assert text_in_language({"fr": "Bonjour"}, "es") == "Bonjour"
    assert text_in_language({}, "en") == ""
    assert text_in_language("not texts", "en") == ""
