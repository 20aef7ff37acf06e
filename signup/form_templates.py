"""The gallery a new form starts from: a few ready definitions, each valid as it stands.

Each template is the default definition (signup.definitions) with its own fields and wording,
so the consents, texts and look a retailer already knows stay the same from one to the next;
tests/signup/test_builder_templates.py runs every one through ``definition_validate``. The
shopper-facing words are in every language a form offers; what the portal says about a
template (its name, its description) is translated like the rest of the portal.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .definitions import LANGUAGES, LocalisedText, default_definition, text_in_language

Definition = dict[str, Any]

#: Labels a new standard field starts with, so adding "Phone" is one click, not three texts.
STANDARD_LABELS: dict[str, LocalisedText] = {
    "email": {"en": "Email address", "fr": "Adresse e-mail", "es": "Correo electrónico"},
    "first_name": {"en": "First name", "fr": "Prénom", "es": "Nombre"},
    "last_name": {"en": "Last name", "fr": "Nom", "es": "Apellido"},
    "phone": {"en": "Mobile phone", "fr": "Téléphone mobile", "es": "Teléfono móvil"},
    "birthday": {"en": "Birthday", "fr": "Anniversaire", "es": "Cumpleaños"},
    "postal_code": {"en": "Postal code", "fr": "Code postal", "es": "Código postal"},
}


@dataclass(frozen=True)
class FormTemplate:
    key: str
    name: str | Promise
    description: str | Promise
    build: Callable[[], Definition]

    def definition(self) -> Definition:
        """A fresh copy, for the caller to store or change."""
        return self.build()

    def field_names(self, language: str) -> list[str]:
        """The labels of its fields, in ``language`` when the template words it."""
        return [text_in_language(field["label"], language[:2]) for field in self.build()["fields"]]


def _standard(kind: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "key": kind,
        "type": kind,
        "required": required or kind == "email",
        "label": dict(STANDARD_LABELS[kind]),
        "help": {},
    }


def _with_fields(*fields: dict[str, Any], welcome: dict[str, str] | None = None) -> Definition:
    definition = default_definition()
    definition["fields"] = [_standard("email"), *fields]
    if welcome is not None:
        definition["texts"]["welcome"] = welcome
    return definition


def _blank() -> Definition:
    return _with_fields()


def _newsletter() -> Definition:
    return _with_fields(
        _standard("first_name"),
        welcome={
            "en": "Get our news first",
            "fr": "Recevez nos nouvelles en premier",
            "es": "Reciba nuestras novedades primero",
        },
    )


def _loyalty_club() -> Definition:
    definition = _with_fields(
        _standard("first_name", required=True),
        _standard("last_name"),
        _standard("phone"),
        _standard("birthday"),
        welcome={
            "en": "Join our loyalty club",
            "fr": "Rejoignez notre club fidélité",
            "es": "Únase a nuestro club de fidelidad",
        },
    )
    # Members are offered texts too; the phone field the SMS box needs is above.
    definition["consents"]["sms"]["enabled"] = True
    return definition


def _competition_entry() -> Definition:
    rules: dict[str, Any] = {
        "key": "accepts_rules",
        "type": "checkbox",
        "required": True,
        "label": {
            "en": "I accept the competition rules",
            "fr": "J'accepte le règlement du jeu",
            "es": "Acepto las bases del concurso",
        },
        "help": {},
    }
    heard: dict[str, Any] = {
        "key": "heard_from",
        "type": "single_choice",
        "required": False,
        "label": {
            "en": "How did you hear about us?",
            "fr": "Comment nous avez-vous connus ?",
            "es": "¿Cómo nos conoció?",
        },
        "help": {},
        "options": [
            {"value": value, "label": dict(zip(LANGUAGES, words, strict=True))}
            for value, words in [
                ("in_store", ("In the shop", "En boutique", "En la tienda")),
                ("friend", ("A friend", "Un ami", "Un amigo")),
                ("social_media", ("Social media", "Réseaux sociaux", "Redes sociales")),
            ]
        ],
    }
    return _with_fields(
        _standard("first_name", required=True),
        _standard("last_name", required=True),
        _standard("postal_code"),
        heard,
        rules,
        welcome={
            "en": "Enter our competition",
            "fr": "Participez à notre jeu-concours",
            "es": "Participe en nuestro concurso",
        },
    )


FORM_TEMPLATES: tuple[FormTemplate, ...] = (
    FormTemplate(
        "newsletter",
        _("Newsletter sign-up"),
        _("Email and first name, with the email consent: the quickest sign-up at the till."),
        _newsletter,
    ),
    FormTemplate(
        "loyalty_club",
        _("Loyalty club"),
        _("Name, mobile phone and birthday, with email and SMS consents: for member offers."),
        _loyalty_club,
    ),
    FormTemplate(
        "competition",
        _("Competition entry"),
        _("Full name, postal code, how they heard of you, and the competition rules to accept."),
        _competition_entry,
    ),
    FormTemplate(
        "blank",
        _("Blank"),
        _("Only the email field every form has: add the rest yourself."),
        _blank,
    ),
)

TEMPLATES_BY_KEY = {template.key: template for template in FORM_TEMPLATES}
