"""The form builder's posted inputs -> a definition, and its structural edits.

The builder posts one input per leaf of the definition, named by its path in the definition
(``fields.2.label.fr``). That is the path ``definition_validate`` reports errors against, so every
error lands next to the input it is about without any translation table (see builder_page.py).
"""

import re
from copy import deepcopy
from typing import cast

from django.http import QueryDict

from ..definitions import (
    CHOICE_TYPES,
    FIELD_TYPES,
    LANGUAGES,
    STANDARD_TYPES,
    BrandingDefinition,
    ConsentDefinition,
    DraftInput,
    FieldDefinition,
    LocalisedText,
    OptionDefinition,
)
from ..form_templates import STANDARD_LABELS

_INDEX = re.compile(r"^fields\.(\d+)\.type$")


def _indices(data: QueryDict, pattern: re.Pattern[str]) -> list[int]:
    return sorted({int(match.group(1)) for key in data if (match := pattern.match(key))})


def _texts(data: QueryDict, path: str) -> LocalisedText:
    """One text per language; empty languages are left out, which is what "missing" means."""
    return {
        language: value.strip()
        for language in LANGUAGES
        if (value := data.get(f"{path}.{language}", "")).strip()
    }


def _parse_field(data: QueryDict, index: int) -> FieldDefinition:
    path = f"fields.{index}"
    kind = data.get(f"{path}.type", "")
    parsed: FieldDefinition = {
        "key": kind if kind in STANDARD_TYPES else data.get(f"{path}.key", "").strip(),
        "type": kind,
        # The email field is always required; its checkbox is shown ticked and disabled.
        "required": kind == "email" or f"{path}.required" in data,
        "label": _texts(data, f"{path}.label"),
        "help": _texts(data, f"{path}.help"),
    }
    if kind in CHOICE_TYPES:
        pattern = re.compile(rf"^{re.escape(path)}\.options\.(\d+)\.value$")
        parsed["options"] = [
            {
                "value": data.get(f"{path}.options.{number}.value", "").strip(),
                "label": _texts(data, f"{path}.options.{number}.label"),
            }
            for number in _indices(data, pattern)
        ]
    return parsed


def builder_parse(data: QueryDict, *, base: object) -> DraftInput:
    """The definition the builder's inputs describe; keys the builder does not show are kept."""
    # ``base`` is the stored draft; only keys the builder has no input for survive from it.
    definition = cast(DraftInput, deepcopy(base) if isinstance(base, dict) else {})
    definition["languages"] = [lang for lang in LANGUAGES if lang in data.getlist("languages")]
    definition["fields"] = [_parse_field(data, index) for index in _indices(data, _INDEX)]
    consents: dict[str, ConsentDefinition] = {
        channel: {
            "enabled": f"consents.{channel}.enabled" in data,
            "text": _texts(data, f"consents.{channel}.text"),
        }
        for channel in ("email", "sms")
    }
    consents["sms"]["disclosure"] = _texts(data, "consents.sms.disclosure")
    definition["consents"] = consents
    definition["double_opt_in"] = "double_opt_in" in data
    definition["texts"] = {name: _texts(data, f"texts.{name}") for name in ("welcome", "thank_you")}
    definition["branding"] = _branding(data)
    idle = data.get("idle_timeout_seconds", "").strip()
    # A non-number is kept as typed so validation reports it next to the input.
    definition["idle_timeout_seconds"] = int(idle) if idle.isdigit() else idle
    return definition


def _branding(data: QueryDict) -> BrandingDefinition:
    def value(name: str) -> str:
        return data.get(f"branding.{name}", "").strip()

    return {
        "logo_url": value("logo_url"),
        "primary_color": value("primary_color"),
        "background_color": value("background_color"),
        "text_color": value("text_color"),
    }


def _unique_key(taken: set[str], stem: str) -> str:
    number = 1
    while f"{stem}_{number}" in taken:
        number += 1
    return f"{stem}_{number}"


def _new_field(kind: str, fields: list[FieldDefinition]) -> FieldDefinition:
    new: FieldDefinition = {
        "key": kind
        if kind in STANDARD_TYPES
        else _unique_key({f["key"] for f in fields}, "question"),
        "type": kind,
        "required": kind == "email",
        "label": dict(STANDARD_LABELS.get(kind, {})),
        "help": {},
    }
    if kind in CHOICE_TYPES:
        new["options"] = [{"value": "option_1", "label": {}}, {"value": "option_2", "label": {}}]
    return new


def builder_apply(fields: list[FieldDefinition], *, action: str, new_type: str = "") -> int | None:
    """Applies a structural edit (add, remove, move) to the posted fields, in place.

    These edits are not validated or saved: a new field has no label yet. "Save draft" does both.
    Returns the index of the field the edit leaves in front of the retailer (the new one, the
    moved one), whose card the page shows open; None when there is none.
    """
    verb, _, argument = action.partition(":")
    numbers = [int(part) for part in argument.split(":") if part.isdigit()]
    if verb == "add_field" and new_type in FIELD_TYPES:
        fields.append(_new_field(new_type, fields))
        return len(fields) - 1
    if not numbers or not 0 <= numbers[0] < len(fields):
        return None
    index = numbers[0]
    options: list[OptionDefinition] | None = fields[index].get("options")
    if verb == "remove_field" and fields[index]["type"] != "email":
        del fields[index]
        return None
    if verb == "up" and index > 0:
        fields[index - 1], fields[index] = fields[index], fields[index - 1]
        return index - 1
    if verb == "down" and index < len(fields) - 1:
        fields[index + 1], fields[index] = fields[index], fields[index + 1]
        return index + 1
    if verb == "add_option" and options is not None:
        options.append({"value": _unique_key({o["value"] for o in options}, "option"), "label": {}})
    elif (
        verb == "remove_option"
        and options is not None
        and len(numbers) == 2
        and 0 <= numbers[1] < len(options)
    ):
        del options[numbers[1]]
    return index
