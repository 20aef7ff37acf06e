"""The form definition: what a draft and a published version hold, and how answers are checked.

A definition is plain JSON so a published version can be stored frozen and sent to tablets as is::

    {
      "languages": ["en", "fr", "es"],
      "fields": [{"key": "email", "type": "email", "required": true,
                  "label": {"en": "Email", ...}, "help": {"en": "..."}, "options": [...]}],
      "consents": {"email": {"enabled": true, "text": {"en": "..."}},
                   "sms": {"enabled": true, "text": {...}, "disclosure": {...}}},
      "double_opt_in": false,
      "texts": {"welcome": {...}, "thank_you": {...}},
      "branding": {"logo_url": "", "primary_color": "#0b5cad", ...},
      "idle_timeout_seconds": 45
    }
"""

import re
from copy import deepcopy
from typing import Any, NotRequired, TypedDict, cast

from customerinfo.core.errors import FieldErrors, ServiceError

LANGUAGES = ("en", "fr", "es")

# --- the shape of a definition ------------------------------------------------------------------
# Types of what definition_validate accepts, as stored (the JSON does not change with them).
# Maps keyed by language, channel or text name stay plain dicts: their keys are data.

#: One text per language code; a language the form does not have a text for is left out.
LocalisedText = dict[str, str]


class OptionDefinition(TypedDict):
    """One answer of a single or multiple choice: ``value`` goes to the CRM."""

    value: str
    label: LocalisedText


class FieldDefinition(TypedDict):
    key: str
    type: str
    required: bool
    label: LocalisedText
    help: NotRequired[LocalisedText]
    #: Choice fields only (CHOICE_TYPES).
    options: NotRequired[list[OptionDefinition]]


class ConsentWording(TypedDict):
    """The ConsentText row a published consent's words are kept in, and their hash."""

    id: int
    hash: str


class ConsentDefinition(TypedDict):
    enabled: bool
    text: LocalisedText
    #: SMS only: rates, frequency, STOP/HELP, shown beside the box.
    disclosure: NotRequired[LocalisedText]
    #: Published versions only (form_publish adds it), by language.
    wording: NotRequired[dict[str, ConsentWording]]


class BrandingDefinition(TypedDict, total=False):
    logo_url: str
    primary_color: str
    background_color: str
    text_color: str


class _DefinitionParts(TypedDict):
    languages: list[str]
    fields: list[FieldDefinition]
    #: By channel: "email", "sms".
    consents: NotRequired[dict[str, ConsentDefinition]]
    double_opt_in: NotRequired[bool]
    #: By name: "welcome", "thank_you".
    texts: NotRequired[dict[str, LocalisedText]]
    branding: NotRequired[BrandingDefinition]


class FormDefinition(_DefinitionParts):
    """A definition that passed definition_validate: a draft, or a published version."""

    idle_timeout_seconds: NotRequired[int]


class DraftInput(_DefinitionParts):
    """What the form builder's inputs describe, before definition_validate has seen it.

    Every part has its type, but not yet its rules (a new field has no label yet), and an idle
    timeout that is not a number is kept as typed so the builder can show it with its error.
    """

    idle_timeout_seconds: NotRequired[int | str]


#: Field types stored in a Submission column, each under its fixed key.
STANDARD_TYPES = ("email", "first_name", "last_name", "phone", "birthday", "postal_code")
#: Field types whose answers are kept in Submission.answers under the field's own key.
CUSTOM_TYPES = ("single_choice", "multiple_choice", "checkbox", "short_text")
FIELD_TYPES = STANDARD_TYPES + CUSTOM_TYPES
CHOICE_TYPES = ("single_choice", "multiple_choice")

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
COLOUR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
MIN_IDLE_SECONDS, MAX_IDLE_SECONDS = 15, 300

DEFAULT_DEFINITION: FormDefinition = {
    "languages": list(LANGUAGES),
    "fields": [
        {
            "key": "email",
            "type": "email",
            "required": True,
            "label": {"en": "Email address", "fr": "Adresse e-mail", "es": "Correo electrónico"},
            "help": {},
        },
        {
            "key": "first_name",
            "type": "first_name",
            "required": False,
            "label": {"en": "First name", "fr": "Prénom", "es": "Nombre"},
            "help": {},
        },
    ],
    "consents": {
        "email": {
            "enabled": True,
            "text": {
                "en": "Yes, send me news and offers by email. I can unsubscribe at any time.",
                "fr": "Oui, envoyez-moi des nouvelles et des offres par e-mail. "
                "Je peux me désabonner à tout moment.",
                "es": "Sí, envíenme novedades y ofertas por correo electrónico. "
                "Puedo darme de baja en cualquier momento.",
            },
        },
        "sms": {
            "enabled": False,
            "text": {
                "en": "Yes, send me offers by text message.",
                "fr": "Oui, envoyez-moi des offres par SMS.",
                "es": "Sí, envíenme ofertas por SMS.",
            },
            "disclosure": {
                "en": "Message and data rates may apply. Up to 4 messages a month. "
                "Reply STOP to stop, HELP for help.",
                "fr": "Des frais de messages et de données peuvent s'appliquer. Jusqu'à 4 "
                "messages par mois. Répondez STOP pour arrêter, AIDE pour obtenir de l'aide.",
                "es": "Pueden aplicarse tarifas de mensajes y datos. Hasta 4 mensajes al mes. "
                "Responda STOP para cancelar, AYUDA para obtener ayuda.",
            },
        },
    },
    "double_opt_in": False,
    "texts": {
        "welcome": {
            "en": "Join our list",
            "fr": "Rejoignez notre liste",
            "es": "Únase a nuestra lista",
        },
        "thank_you": {
            "en": "Thank you! You're signed up.",
            "fr": "Merci ! Vous êtes inscrit.",
            "es": "¡Gracias! Ya está suscrito.",
        },
    },
    "branding": {
        "logo_url": "",
        "primary_color": "#0b5cad",
        "background_color": "#ffffff",
        "text_color": "#1b1f24",
    },
    "idle_timeout_seconds": 45,
}


def default_definition() -> dict[str, Any]:
    """A fresh copy of the default definition.

    A plain dict, for callers to build variants of freely: definition_validate is what makes one
    a FormDefinition.
    """
    return dict(deepcopy(DEFAULT_DEFINITION))


def text_in_language(texts: object, language: str) -> str:
    """The text in ``language``, else in English, else in any language ("" when none)."""
    if not isinstance(texts, dict):
        return ""
    text = texts.get(language) or texts.get("en") or next(iter(texts.values()), "")
    return str(text)


class _Errors:
    def __init__(self) -> None:
        self.fields: FieldErrors = {}

    def add(self, path: str, code: str, message: str) -> None:
        self.fields.setdefault(path, []).append({"code": code, "message": message})

    def raise_if_any(self, message: str) -> None:
        if self.fields:
            raise ServiceError("invalid_definition", message, fields=self.fields)


def _texts(
    value: object, path: str, languages: list[str], errors: _Errors, *, required: bool
) -> None:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        errors.add(path, "invalid", "Give one text per language.")
        return
    for language in languages if required else []:
        if not str(value.get(language, "")).strip():
            errors.add(f"{path}.{language}", "required", f"Missing the {language} text.")


def definition_validate(definition: object) -> FormDefinition:
    """Checks a draft before it is saved or published; raises ServiceError listing every fault.

    Returns the same object, now known to be a FormDefinition.
    """
    if not isinstance(definition, dict):
        raise ServiceError("invalid_definition", "A form definition is a JSON object.")
    errors = _Errors()
    languages = definition.get("languages")
    if (
        not isinstance(languages, list)
        or not languages
        or any(language not in LANGUAGES for language in languages)
    ):
        errors.add("languages", "invalid", f"Choose among {', '.join(LANGUAGES)}.")
        languages = ["en"]
    keys = _check_fields(definition.get("fields"), languages, errors)
    _check_consents(definition.get("consents", {}), keys, languages, errors)
    _check_presentation(definition, languages, errors)
    errors.raise_if_any("The form has mistakes; nothing was saved.")
    return cast(FormDefinition, definition)


def _check_fields(fields: object, languages: list[str], errors: _Errors) -> set[str]:
    """Checks every field and returns their keys."""
    if not isinstance(fields, list) or not fields:
        errors.add("fields", "required", "A form needs at least the email field.")
        return set()
    keys: set[str] = set()
    for index, field in enumerate(fields):
        path = f"fields.{index}"
        if not isinstance(field, dict):
            errors.add(path, "invalid", "A field is a JSON object.")
            continue
        key, kind = field.get("key"), field.get("type")
        if kind not in FIELD_TYPES:
            errors.add(f"{path}.type", "invalid", f"Unknown field type {kind!r}.")
        elif kind in STANDARD_TYPES and key != kind:
            errors.add(f"{path}.key", "invalid", f"A {kind} field has the key {kind!r}.")
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            errors.add(f"{path}.key", "invalid", "Keys are lowercase letters, digits and _.")
        elif key in keys:
            errors.add(f"{path}.key", "duplicate", f"Two fields have the key {key!r}.")
        else:
            keys.add(key)
        if not isinstance(field.get("required", False), bool):
            errors.add(f"{path}.required", "invalid", "required is true or false.")
        _texts(field.get("label"), f"{path}.label", languages, errors, required=True)
        _texts(field.get("help", {}), f"{path}.help", languages, errors, required=False)
        if kind in CHOICE_TYPES:
            _check_options(field.get("options"), path, languages, errors)
    email_fields = [f for f in fields if isinstance(f, dict) and f.get("type") == "email"]
    if len(email_fields) != 1 or email_fields[0].get("required") is not True:
        errors.add("fields", "email_required", "Every form has exactly one required email field.")
    return keys


def _check_options(options: object, path: str, languages: list[str], errors: _Errors) -> None:
    if not isinstance(options, list) or len(options) < 2:
        errors.add(f"{path}.options", "required", "A choice needs at least two options.")
        return
    values = [option.get("value") if isinstance(option, dict) else None for option in options]
    if len(set(values)) != len(values) or not all(isinstance(v, str) and v for v in values):
        errors.add(f"{path}.options", "invalid", "Options need distinct values.")
    for number, option in enumerate(options):
        if isinstance(option, dict):
            label_path = f"{path}.options.{number}.label"
            _texts(option.get("label"), label_path, languages, errors, required=True)


def _check_consents(
    consents: object, keys: set[str], languages: list[str], errors: _Errors
) -> None:
    if not isinstance(consents, dict) or set(consents) - {"email", "sms"}:
        errors.add("consents", "invalid", "Consents are email and sms.")
        return
    for channel, consent in consents.items():
        if not isinstance(consent, dict) or not isinstance(consent.get("enabled"), bool):
            errors.add(f"consents.{channel}", "invalid", "Say whether it is enabled.")
            continue
        if consent["enabled"]:
            path = f"consents.{channel}.text"
            _texts(consent.get("text"), path, languages, errors, required=True)
    sms = consents.get("sms")
    if isinstance(sms, dict) and sms.get("enabled"):
        # The disclosure must stand beside the SMS box in every language the form speaks.
        _texts(sms.get("disclosure"), "consents.sms.disclosure", languages, errors, required=True)
        if "phone" not in keys:
            errors.add("consents.sms", "phone_required", "SMS consent needs a phone field.")
    if not isinstance(consents.get("email", {}), dict):
        errors.add("consents.email", "invalid", "Say whether it is enabled.")


def _check_presentation(
    definition: dict[str, object], languages: list[str], errors: _Errors
) -> None:
    if not isinstance(definition.get("double_opt_in", False), bool):
        errors.add("double_opt_in", "invalid", "double_opt_in is true or false.")
    texts = definition.get("texts", {})
    for name in ("welcome", "thank_you"):
        value = texts.get(name, {}) if isinstance(texts, dict) else None
        _texts(value, f"texts.{name}", languages, errors, required=False)
    branding = definition.get("branding", {})
    if not isinstance(branding, dict):
        errors.add("branding", "invalid", "Branding is a JSON object.")
        branding = {}
    for colour in ("primary_color", "background_color", "text_color"):
        if colour in branding and not COLOUR_PATTERN.match(str(branding[colour])):
            errors.add(f"branding.{colour}", "invalid", "Colours are written #rrggbb.")
    logo = branding.get("logo_url", "")
    if logo and not (isinstance(logo, str) and logo.startswith(("https://", "/"))):
        errors.add("branding.logo_url", "invalid", "The logo must be an https:// address.")
    idle = definition.get("idle_timeout_seconds", 45)
    if not isinstance(idle, int) or not MIN_IDLE_SECONDS <= idle <= MAX_IDLE_SECONDS:
        limits = f"Between {MIN_IDLE_SECONDS} and {MAX_IDLE_SECONDS} seconds."
        errors.add("idle_timeout_seconds", "invalid", limits)
