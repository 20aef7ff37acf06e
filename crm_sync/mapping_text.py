"""The field mapping as the portal's destination form reads it: ``form field = CRM property``
lines, each optionally with the property's type (``drinks = interests (multi-select)``), checked
against what the mapping may name (every form's questions and the sign-up date) and against the
CRM's property types (``providers.mapping``) before anything is saved or sent.
"""

import re
from typing import Any

from django.utils.translation import gettext as _

from signup.definitions import STANDARD_TYPES
from signup.models import Form, FormVersion

from .providers import PROVIDERS
from .providers.mapping import (
    PROPERTY_TYPE_NAMES,
    SIGNUP_DATE,
    FieldUse,
    PropertyType,
    mapping_problem,
)


def mapping_sources() -> dict[str, list[FieldUse]]:
    """What a mapping may name: the standard fields, every form's own questions (each with its
    type and options in every form that has it) and the sign-up date.

    Published versions count as well as drafts: sign-ups of an older version still go out.
    """
    sources: dict[str, list[FieldUse]] = {key: [FieldUse(key)] for key in STANDARD_TYPES}
    sources[SIGNUP_DATE] = [FieldUse("date")]
    definitions = [*Form.objects.values_list("draft", flat=True)]
    definitions += FormVersion.objects.values_list("definition", flat=True)
    for definition in definitions:
        fields = definition.get("fields") if isinstance(definition, dict) else None
        for spec in fields if isinstance(fields, list) else []:
            if not (isinstance(spec, dict) and isinstance(spec.get("key"), str)):
                continue
            options = tuple(
                str(option.get("value"))
                for option in spec.get("options") or []
                if isinstance(option, dict)
            )
            use = FieldUse(str(spec.get("type") or ""), options)
            uses = sources.setdefault(spec["key"], [])
            if use not in uses:
                uses.append(use)
    return sources


def mapping_keys_known() -> list[str]:
    return sorted(mapping_sources())


_MAPPING_LINE = re.compile(r"^(?P<field>[^=]*)=(?P<property>.*)$")
#: A declared type at the end of the property: ``interests (multi-select)``.
_DECLARED_TYPE = re.compile(r"^(?P<property>.*?)\s*\((?P<type>[a-z -]+)\)$")
MAX_PROPERTY_LENGTH = 100


def mapping_parse(text: str, *, known: list[str]) -> tuple[dict[str, str], list[str]]:
    """``field = property`` lines -> mapping, and one readable error per bad line."""
    mapping, _types, errors = mapping_parse_typed(text, known=known)
    return mapping, errors


def mapping_parse_typed(
    text: str, *, known: list[str]
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """``field = property`` or ``field = property (type)`` lines -> mapping, the declared types
    by property, and one readable error per bad line.

    Blank lines and lines starting with # are skipped, so a retailer can keep notes. A
    parenthesis that names no type is part of the property's name (Klaviyo's may have any).
    """
    mapping: dict[str, str] = {}
    types: dict[str, str] = {}
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _MAPPING_LINE.match(line)
        if match is None:
            errors.append(
                _("Line %(number)s: write it as “form field = CRM property”.") % {"number": number}
            )
            continue
        form_field, crm_property = match["field"].strip(), match["property"].strip()
        declared = _DECLARED_TYPE.match(crm_property)
        if declared is not None and declared["type"] in PROPERTY_TYPE_NAMES:
            crm_property = declared["property"].strip()
            types[crm_property] = declared["type"]
        if not form_field or not crm_property:
            errors.append(_("Line %(number)s: both sides of “=” are needed.") % {"number": number})
        elif form_field not in known:
            errors.append(
                _("Line %(number)s: “%(field)s” is not a field of any of your forms.")
                % {"number": number, "field": form_field}
            )
        elif form_field in mapping:
            errors.append(
                _("Line %(number)s: “%(field)s” is already mapped above.")
                % {"number": number, "field": form_field}
            )
        elif len(crm_property) > MAX_PROPERTY_LENGTH:
            errors.append(
                _("Line %(number)s: the CRM property name is too long.") % {"number": number}
            )
        else:
            mapping[form_field] = crm_property
    types = {name: kind for name, kind in types.items() if name in mapping.values()}
    return mapping, types, errors


def mapping_text(mapping: dict[str, Any], types: dict[str, Any] | None = None) -> str:
    lines = []
    for form_field, crm_property in mapping.items():
        declared = (types or {}).get(crm_property)
        lines.append(f"{form_field} = {crm_property}" + (f" ({declared})" if declared else ""))
    return "\n".join(lines)


def mapping_errors(
    kind: str, mapping: dict[str, str], types: dict[str, str], sources: dict[str, list[FieldUse]]
) -> list[str]:
    """Why the CRM of this kind could not take each mapped field, in the retailer's words."""
    provider = PROVIDERS.get(kind)
    if provider is None:
        return []
    errors = []
    for form_field, crm_property in mapping.items():
        declared = types.get(crm_property)
        problem = mapping_problem(
            provider.dialect,
            form_field=form_field,
            crm_property=crm_property,
            declared=PropertyType(declared) if declared else None,
            uses=sources.get(form_field, []),
        )
        if problem is not None:
            errors.append(f"{form_field} = {crm_property}: {problem}")
    return errors
