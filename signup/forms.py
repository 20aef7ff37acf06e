"""Portal forms: plain Django forms, and the form builder's flat inputs <-> definition mapping.

The builder posts one input per leaf of the definition, named by its path in the definition
(``fields.2.label.fr``). That is the path ``definition_validate`` reports errors against, so every
error lands next to the input it is about without any translation table.
"""

import re
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.http import QueryDict

from customerinfo.core.accounts.models import Role
from customerinfo.core.errors import FieldErrors

from .definitions import (
    CHOICE_TYPES,
    FIELD_TYPES,
    LANGUAGES,
    MAX_IDLE_SECONDS,
    MIN_IDLE_SECONDS,
    STANDARD_TYPES,
)
from .models import Form, Location

LANGUAGE_NAMES = {"en": "English", "fr": "Français", "es": "Español"}

TYPE_NAMES = {
    "email": "Email address",
    "first_name": "First name",
    "last_name": "Last name",
    "phone": "Phone number",
    "birthday": "Birthday (month and day)",
    "postal_code": "Postal code",
    "single_choice": "Single choice",
    "multiple_choice": "Multiple choice",
    "checkbox": "Yes/no checkbox",
    "short_text": "Short text",
}

#: Labels a new standard field starts with, so adding "Phone" is one click, not three texts.
STANDARD_LABELS: dict[str, dict[str, str]] = {
    "email": {"en": "Email address", "fr": "Adresse e-mail", "es": "Correo electrónico"},
    "first_name": {"en": "First name", "fr": "Prénom", "es": "Nombre"},
    "last_name": {"en": "Last name", "fr": "Nom", "es": "Apellido"},
    "phone": {"en": "Mobile phone", "fr": "Téléphone mobile", "es": "Teléfono móvil"},
    "birthday": {"en": "Birthday", "fr": "Anniversaire", "es": "Cumpleaños"},
    "postal_code": {"en": "Postal code", "fr": "Code postal", "es": "Código postal"},
}

_INDEX = re.compile(r"^fields\.(\d+)\.type$")
_DEFAULT_COLOURS = {
    "primary_color": "#0b5cad",
    "background_color": "#ffffff",
    "text_color": "#1b1f24",
}


# --- plain forms -------------------------------------------------------------------------------


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone) for zone in sorted(available_timezones())]


class FormCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    is_default = forms.BooleanField(
        required=False,
        label="Brand form",
        help_text="Shown by every store that does not choose another form.",
    )


class FormSettingsForm(FormCreateForm):
    pass


class LocationForm(forms.Form):
    name = forms.CharField(max_length=120)
    code = forms.SlugField(
        max_length=40, help_text="Short and unique, e.g. paris-rivoli. It cannot change later."
    )
    country = forms.CharField(
        min_length=2, max_length=2, help_text="Two letters, e.g. FR. Phone numbers default to it."
    )
    time_zone = forms.ChoiceField(choices=_time_zone_choices)
    form = forms.ModelChoiceField(
        queryset=Form.objects.all(),
        required=False,
        empty_label="The brand form",
        label="Form shown on its tablets",
    )
    language = forms.ChoiceField(
        choices=[("", "The form's first language"), *LANGUAGE_NAMES.items()],
        required=False,
        label="Tablet language",
        help_text="The language its tablets return to after each shopper, if the form has it.",
    )


class LocationEditForm(LocationForm):
    is_active = forms.BooleanField(
        required=False,
        label="Open (its tablets take sign-ups)",
        help_text="Closing a store stops its tablets taking new sign-ups; sign-ups captured "
        "before it closed still arrive.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["code"]
        for text in ("welcome", "thank_you"):
            for language in LANGUAGES:
                self.fields[f"{text}_{language}"] = forms.CharField(
                    required=False, max_length=300, label=LANGUAGE_NAMES[language]
                )

    def overrides(self) -> dict[str, Any]:
        """The store's text overrides; empty languages fall back to the form's own text."""
        texts: dict[str, dict[str, str]] = {}
        for text in ("welcome", "thank_you"):
            values = {
                language: self.cleaned_data[f"{text}_{language}"].strip()
                for language in LANGUAGES
                if self.cleaned_data[f"{text}_{language}"].strip()
            }
            if values:
                texts[text] = values
        return {"texts": texts} if texts else {}

    @staticmethod
    def initial_for(location: Location) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": location.name,
            "country": location.country,
            "time_zone": location.time_zone,
            "form": location.form_id,
            "language": location.language,
            "is_active": location.is_active,
        }
        texts = (location.overrides or {}).get("texts", {})
        for text in ("welcome", "thank_you"):
            for language in LANGUAGES:
                initial[f"{text}_{language}"] = texts.get(text, {}).get(language, "")
        return initial


class PairForm(forms.Form):
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(is_active=True), label="Store"
    )
    device_name = forms.CharField(
        max_length=120, label="Tablet name", help_text="To tell tablets apart, e.g. Till 2."
    )


class SubmissionFilterForm(forms.Form):
    email = forms.CharField(required=False, label="Email contains")
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.all(), required=False, empty_label="All stores", label="Store"
    )


class MemberCreateForm(forms.Form):
    email = forms.EmailField()
    full_name = forms.CharField(max_length=200, required=False, label="Name")
    role = forms.ChoiceField(choices=Role.choices)
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label="Initial password",
        help_text="At least 8 characters, not a common one. Give it to them in person.",
    )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class RetentionForm(forms.Form):
    retention_days = forms.IntegerField(
        label="Keep sign-ups for (days)",
        help_text="Older sign-ups are deleted every night. 30 to 3650 days.",
    )


class ShopperEmailForm(forms.Form):
    email = forms.EmailField(label="Shopper's email address")


def service_errors_to_form(form: forms.Form, fields: FieldErrors, message: str) -> None:
    """Puts a ServiceError's field errors next to the matching inputs, the rest on top."""
    for name, errors in fields.items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error["message"])
    if not fields:
        form.add_error(None, message)


# --- the form builder: posted inputs -> definition ---------------------------------------------


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _indices(data: QueryDict, pattern: re.Pattern[str]) -> list[int]:
    return sorted({int(match.group(1)) for key in data if (match := pattern.match(key))})


def _texts(data: QueryDict, path: str) -> dict[str, str]:
    """One text per language; empty languages are left out, which is what "missing" means."""
    return {
        language: value.strip()
        for language in LANGUAGES
        if (value := data.get(f"{path}.{language}", "")).strip()
    }


def _parse_field(data: QueryDict, index: int) -> dict[str, Any]:
    path = f"fields.{index}"
    kind = data.get(f"{path}.type", "")
    parsed: dict[str, Any] = {
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


def builder_parse(data: QueryDict, *, base: dict[str, Any]) -> dict[str, Any]:
    """The definition the builder's inputs describe; keys the builder does not show are kept."""
    definition = deepcopy(base) if isinstance(base, dict) else {}
    definition["languages"] = [lang for lang in LANGUAGES if lang in data.getlist("languages")]
    definition["fields"] = [_parse_field(data, index) for index in _indices(data, _INDEX)]
    consents: dict[str, Any] = {}
    for channel in ("email", "sms"):
        consents[channel] = {
            "enabled": f"consents.{channel}.enabled" in data,
            "text": _texts(data, f"consents.{channel}.text"),
        }
    consents["sms"]["disclosure"] = _texts(data, "consents.sms.disclosure")
    definition["consents"] = consents
    definition["double_opt_in"] = "double_opt_in" in data
    definition["texts"] = {name: _texts(data, f"texts.{name}") for name in ("welcome", "thank_you")}
    definition["branding"] = {
        name: data.get(f"branding.{name}", "").strip()
        for name in ("logo_url", "primary_color", "background_color", "text_color")
    }
    idle = data.get("idle_timeout_seconds", "").strip()
    # A non-number is kept as typed so validation reports it next to the input.
    definition["idle_timeout_seconds"] = int(idle) if idle.isdigit() else idle
    return definition


def _unique_key(taken: set[Any], stem: str) -> str:
    number = 1
    while f"{stem}_{number}" in taken:
        number += 1
    return f"{stem}_{number}"


def _new_field(kind: str, fields: list[dict[str, Any]]) -> dict[str, Any]:
    new: dict[str, Any] = {
        "key": kind
        if kind in STANDARD_TYPES
        else _unique_key({f.get("key") for f in fields}, "question"),
        "type": kind,
        "required": kind == "email",
        "label": dict(STANDARD_LABELS.get(kind, {})),
        "help": {},
    }
    if kind in CHOICE_TYPES:
        new["options"] = [{"value": "option_1", "label": {}}, {"value": "option_2", "label": {}}]
    return new


def builder_apply(definition: dict[str, Any], action: str, new_type: str = "") -> None:
    """Applies a structural edit (add, remove, move) to the posted definition, in place.

    These edits are not validated or saved: a new field has no label yet. "Save draft" does both.
    """
    fields: list[dict[str, Any]] = definition["fields"]
    verb, _, argument = action.partition(":")
    numbers = [int(part) for part in argument.split(":") if part.isdigit()]
    if verb == "add_field" and new_type in FIELD_TYPES:
        fields.append(_new_field(new_type, fields))
        return
    if not numbers or not 0 <= numbers[0] < len(fields):
        return
    index = numbers[0]
    options = fields[index].get("options")
    if verb == "remove_field" and fields[index]["type"] != "email":
        del fields[index]
    elif verb == "up" and index > 0:
        fields[index - 1], fields[index] = fields[index], fields[index - 1]
    elif verb == "down" and index < len(fields) - 1:
        fields[index + 1], fields[index] = fields[index], fields[index + 1]
    elif verb == "add_option" and isinstance(options, list):
        taken = {option.get("value") for option in options if isinstance(option, dict)}
        options.append({"value": _unique_key(taken, "option"), "label": {}})
    elif (
        verb == "remove_option"
        and isinstance(options, list)
        and len(numbers) == 2
        and 0 <= numbers[1] < len(options)
    ):
        del options[numbers[1]]


# --- the form builder: definition -> what the template shows ----------------------------------


@dataclass
class Input:
    name: str
    label: str
    value: Any
    errors: list[str] = field(default_factory=list)


@dataclass
class Texts:
    """One text in every language: a fieldset of three inputs."""

    path: str
    legend: str
    inputs: list[Input]
    errors: list[str] = field(default_factory=list)
    multiline: bool = False


@dataclass
class OptionRow:
    index: int
    value: Input
    label: Texts


@dataclass
class FieldBlock:
    index: int
    type: str
    type_name: str
    key: Input
    required: Input
    label: Texts
    help: Texts
    options: list[OptionRow]
    is_choice: bool
    is_standard: bool
    is_email: bool
    is_first: bool
    is_last: bool
    errors: list[str] = field(default_factory=list)


@dataclass
class Builder:
    languages: list[tuple[str, str, bool]]
    fields: list[FieldBlock]
    consents: dict[str, dict[str, Any]]
    double_opt_in: Input
    texts: list[Texts]
    branding: list[Input]
    idle: Input
    #: (input id to link to, message) for the summary at the top of the page.
    summary: list[tuple[str, str]]
    field_types: list[tuple[str, str]]
    errors: dict[str, list[str]] = field(default_factory=dict)


_PATH_WORDS = {
    "fields": "Field",
    "options": "option",
    "consents": "Consent:",
    "sms": "SMS",
    "texts": "Text:",
    "welcome": "welcome title",
    "thank_you": "thank-you message",
    "branding": "Look:",
    "logo_url": "logo",
    "primary_color": "button colour",
    "background_color": "background colour",
    "text_color": "text colour",
    "idle_timeout_seconds": "Idle timeout",
    "double_opt_in": "Double opt-in",
    **LANGUAGE_NAMES,
}


def _where(path: str) -> str:
    """A path said in words for the error summary: fields.2.label.es -> Field 3 label Español."""
    words: list[str] = []
    for part in path.split("."):
        if part.isdigit():
            words.append(str(int(part) + 1))
        else:
            words.append(_PATH_WORDS.get(part, part.replace("_", " ")))
    return " ".join(words)


class _ErrorIndex:
    """Hands each error to the input (or group) whose name is its path, exactly once."""

    def __init__(self, fields: FieldErrors) -> None:
        self.remaining = {path: [e["message"] for e in errors] for path, errors in fields.items()}
        self.summary: list[tuple[str, str]] = []

    def take(self, path: str, anchor: str | None = None) -> list[str]:
        messages = self.remaining.pop(path, [])
        where = _where(path)
        self.summary.extend(
            (path if anchor is None else anchor, f"{where}: {message}" if where else message)
            for message in messages
        )
        return messages

    def take_under(self, prefix: str, anchor: str) -> list[str]:
        """Errors about anything inside ``prefix`` that no input claimed (a removed option...)."""
        messages: list[str] = []
        for path in [p for p in self.remaining if p == prefix or p.startswith(prefix + ".")]:
            messages.extend(self.take(path, anchor))
        return messages


def _text_group(
    value: Any, path: str, legend: str, errors: _ErrorIndex, *, multiline: bool = False
) -> Texts:
    values = value if isinstance(value, dict) else {}
    inputs = [
        Input(
            name=f"{path}.{language}",
            label=LANGUAGE_NAMES[language],
            value=values.get(language, ""),
            errors=errors.take(f"{path}.{language}"),
        )
        for language in LANGUAGES
    ]
    anchor = inputs[0].name
    return Texts(
        path=path,
        legend=legend,
        inputs=inputs,
        errors=errors.take(path, anchor),
        multiline=multiline,
    )


def _field_block(spec: Any, index: int, count: int, errors: _ErrorIndex) -> FieldBlock:
    spec = spec if isinstance(spec, dict) else {}
    path = f"fields.{index}"
    kind = str(spec.get("type", ""))
    options = _list(spec.get("options"))
    rows = [
        OptionRow(
            index=number,
            value=Input(
                f"{path}.options.{number}.value",
                "Value (sent to your CRM)",
                option.get("value", "") if isinstance(option, dict) else "",
                errors.take(f"{path}.options.{number}.value"),
            ),
            label=_text_group(
                option.get("label") if isinstance(option, dict) else {},
                f"{path}.options.{number}.label",
                f"Option {number + 1} label",
                errors,
            ),
        )
        for number, option in enumerate(options)
    ]
    block = FieldBlock(
        index=index,
        type=kind,
        type_name=TYPE_NAMES.get(kind, kind),
        key=Input(
            f"{path}.key", "Key (column name)", spec.get("key", ""), errors.take(f"{path}.key")
        ),
        required=Input(
            f"{path}.required",
            "Required",
            bool(spec.get("required")),
            errors.take(f"{path}.required"),
        ),
        label=_text_group(spec.get("label"), f"{path}.label", "Label", errors),
        help=_text_group(spec.get("help"), f"{path}.help", "Help text (optional)", errors),
        options=rows,
        is_choice=kind in CHOICE_TYPES,
        is_standard=kind in STANDARD_TYPES,
        is_email=kind == "email",
        is_first=index == 0,
        is_last=index == count - 1,
    )
    if block.is_choice:
        block.errors.extend(errors.take(f"{path}.options", f"{path}.options.0.value"))
    block.errors.extend(errors.take_under(path, f"field-{index}"))
    return block


def _consent_block(value: Any, channel: str, errors: _ErrorIndex) -> dict[str, Any]:
    consent = value if isinstance(value, dict) else {}
    path = f"consents.{channel}"
    block: dict[str, Any] = {
        "enabled": Input(f"{path}.enabled", "Ask for it", bool(consent.get("enabled"))),
        "text": _text_group(
            consent.get("text"), f"{path}.text", "Consent text", errors, multiline=True
        ),
    }
    if channel == "sms":
        block["disclosure"] = _text_group(
            consent.get("disclosure"),
            f"{path}.disclosure",
            "Disclosure shown beside the box (rates, frequency, STOP/HELP)",
            errors,
            multiline=True,
        )
    block["errors"] = errors.take_under(path, f"{path}.enabled")
    return block


def builder_present(definition: Any, fields: FieldErrors | None = None) -> Builder:
    """Everything the builder template shows, each input with its own error messages."""
    errors = _ErrorIndex(fields or {})
    definition = definition if isinstance(definition, dict) else {}
    languages = definition.get("languages") or []
    field_specs = _list(definition.get("fields"))
    consents = _dict(definition.get("consents"))
    texts = _dict(definition.get("texts"))
    branding = _dict(definition.get("branding"))
    colour_names = {
        "primary_color": "Buttons and accents",
        "background_color": "Background",
        "text_color": "Text",
    }
    builder = Builder(
        languages=[(code, name, code in languages) for code, name in LANGUAGE_NAMES.items()],
        fields=[
            _field_block(spec, index, len(field_specs), errors)
            for index, spec in enumerate(field_specs)
        ],
        consents={
            channel: _consent_block(consents.get(channel), channel, errors)
            for channel in ("email", "sms")
        },
        double_opt_in=Input(
            "double_opt_in",
            "Double opt-in: the CRM sends a confirmation email first",
            bool(definition.get("double_opt_in")),
            errors.take("double_opt_in"),
        ),
        texts=[
            _text_group(texts.get("welcome"), "texts.welcome", "Welcome title", errors),
            _text_group(
                texts.get("thank_you"),
                "texts.thank_you",
                "Thank-you message",
                errors,
                multiline=True,
            ),
        ],
        branding=[
            Input(
                "branding.logo_url",
                "Logo address (https://…)",
                branding.get("logo_url", ""),
                errors.take("branding.logo_url"),
            ),
            *[
                Input(
                    f"branding.{name}",
                    label,
                    branding.get(name) or _DEFAULT_COLOURS[name],
                    errors.take(f"branding.{name}"),
                )
                for name, label in colour_names.items()
            ],
        ],
        idle=Input(
            "idle_timeout_seconds",
            f"Reset after this many idle seconds ({MIN_IDLE_SECONDS} to {MAX_IDLE_SECONDS})",
            definition.get("idle_timeout_seconds", 45),
            errors.take("idle_timeout_seconds"),
        ),
        summary=[],
        field_types=[(kind, TYPE_NAMES[kind]) for kind in FIELD_TYPES],
    )
    builder.errors["languages"] = errors.take("languages", "language-en")
    builder.errors["fields"] = errors.take_under("fields", "fields")
    builder.errors["texts"] = errors.take_under("texts", "texts.welcome.en")
    builder.errors["branding"] = errors.take_under("branding", "branding.logo_url")
    builder.errors["other"] = [m for path in list(errors.remaining) for m in errors.take(path, "")]
    builder.summary = errors.summary
    return builder


# --- the live preview: a draft as the tablet shows it ------------------------------------------

KIOSK_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "submit": "Sign up",
        "required": "required",
        "month": "Month",
        "day": "Day",
        "double_opt_in": "We will email you a link to confirm.",
        "optional": "optional",
    },
    "fr": {
        "submit": "S'inscrire",
        "required": "obligatoire",
        "month": "Mois",
        "day": "Jour",
        "double_opt_in": "Nous vous enverrons un e-mail pour confirmer.",
        "optional": "facultatif",
    },
    "es": {
        "submit": "Registrarse",
        "required": "obligatorio",
        "month": "Mes",
        "day": "Día",
        "double_opt_in": "Le enviaremos un correo para confirmar.",
        "optional": "opcional",
    },
}

#: What the tablet's keyboard and autofill should offer for each field type.
INPUT_KINDS: dict[str, dict[str, str]] = {
    "email": {"type": "email", "inputmode": "email", "autocomplete": "email"},
    "first_name": {"type": "text", "inputmode": "text", "autocomplete": "given-name"},
    "last_name": {"type": "text", "inputmode": "text", "autocomplete": "family-name"},
    "phone": {"type": "tel", "inputmode": "tel", "autocomplete": "tel"},
    "postal_code": {"type": "text", "inputmode": "text", "autocomplete": "postal-code"},
    "short_text": {"type": "text", "inputmode": "text", "autocomplete": "off"},
}

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _in_language(value: Any, language: str) -> str:
    if not isinstance(value, dict):
        return ""
    text = value.get(language) or value.get("en") or next(iter(value.values()), "")
    return str(text)


def preview_present(definition: Any, language: str) -> dict[str, Any]:
    """A definition, even a half-edited one, reduced to what the tablet would show."""
    definition = definition if isinstance(definition, dict) else {}
    languages = [lang for lang in definition.get("languages") or [] if lang in LANGUAGES]
    if language not in LANGUAGES:
        language = languages[0] if languages else "en"
    branding = _dict(definition.get("branding"))
    # Only well-formed values reach the style attribute: the draft may be mid-edit.
    colours = {
        name: value if _COLOUR.match(str(value := branding.get(name, ""))) else default
        for name, default in _DEFAULT_COLOURS.items()
    }
    logo = str(branding.get("logo_url") or "")
    texts = _dict(definition.get("texts"))
    fields = []
    specs = _list(definition.get("fields"))
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict):
            continue
        kind = str(spec.get("type", ""))
        options = _list(spec.get("options"))
        fields.append(
            {
                "id": f"preview-{index}",
                "type": kind,
                "label": _in_language(spec.get("label"), language) or TYPE_NAMES.get(kind, kind),
                "help": _in_language(spec.get("help"), language),
                "required": bool(spec.get("required")),
                "input": INPUT_KINDS.get(kind),
                "options": [
                    _in_language(option.get("label"), language) or str(option.get("value", ""))
                    for option in options
                    if isinstance(option, dict)
                ],
            }
        )
    consents = _dict(definition.get("consents"))
    # Email first, then SMS, as on the tablet (stored JSON does not keep key order).
    consent_rows = [
        {
            "channel": channel,
            "text": _in_language(consent.get("text"), language),
            "disclosure": _in_language(consent.get("disclosure"), language),
        }
        for channel in ("email", "sms")
        if isinstance(consent := consents.get(channel), dict) and consent.get("enabled")
    ]
    return {
        "language": language,
        "languages": [(code, LANGUAGE_NAMES[code]) for code in languages],
        "colours": colours,
        "logo_url": logo if logo.startswith(("https://", "/")) else "",
        "welcome": _in_language(texts.get("welcome"), language),
        "thank_you": _in_language(texts.get("thank_you"), language),
        "fields": fields,
        "consents": consent_rows,
        "double_opt_in": bool(definition.get("double_opt_in")),
        "idle_timeout_seconds": definition.get("idle_timeout_seconds"),
        "words": KIOSK_WORDS[language],
        "months": range(1, 13),
        "days": range(1, 32),
    }
