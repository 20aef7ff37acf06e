"""Typed field mapping: what kind of answer goes into what kind of CRM property, in whose format.

A retailer maps a form field to a CRM property ("drinks = interests"). The answer has a kind
(free text, one choice, several choices, a checkbox, a birthday without a year, the sign-up's
date) and the property has a type (text, number, date, enumeration, multi-select, boolean,
phone, birthday). Each CRM writes each type its own way: HubSpot takes every value as a string
and multi-selects as ``a;b``, Salesforce multi-picklists are ``a;b`` but checkboxes are JSON
booleans, Mailchimp birthdays are ``MM/DD`` and it has no boolean or multi-select merge field,
Klaviyo keeps lists and booleans as JSON.

The type of a property is, in order: what the retailer declared on the mapping line
(``drinks = interests (multi-select)``), what the provider knows of its vendor's standard
properties (``Dialect.known``), else the natural type of the answer (a multiple choice goes to a
multi-select). The portal refuses a mapping that cannot be converted (``mapping_problem``), so
what reaches ``convert`` converts; a value that still cannot (an older form version, a Contact
built by hand) is left out with its reason, never sent in a form the CRM would refuse.
"""

import enum
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any


class PropertyType(enum.StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    ENUMERATION = "enumeration"
    MULTI_SELECT = "multi-select"
    BOOLEAN = "boolean"
    PHONE = "phone"
    #: A month and a day without a year: only Mailchimp has such a field.
    BIRTHDAY = "birthday"


PROPERTY_TYPE_NAMES = frozenset(member.value for member in PropertyType)


class AnswerKind(enum.StrEnum):
    TEXT = "text"
    PHONE = "phone"
    CHOICE = "choice"
    CHOICES = "choices"
    CHECKBOX = "checkbox"
    BIRTHDAY = "birthday"
    DATE = "date"


#: A mapping source that is no question of a form: the day the shopper signed up, in the store's
#: time zone. Form keys cannot hold a hyphen, so it never hides a question.
SIGNUP_DATE = "signup-date"

#: The kind of answer each form field type gives (signup.definitions.FIELD_TYPES).
FIELD_KINDS: dict[str, AnswerKind] = {
    "email": AnswerKind.TEXT,
    "first_name": AnswerKind.TEXT,
    "last_name": AnswerKind.TEXT,
    "postal_code": AnswerKind.TEXT,
    "short_text": AnswerKind.TEXT,
    "phone": AnswerKind.PHONE,
    "birthday": AnswerKind.BIRTHDAY,
    "single_choice": AnswerKind.CHOICE,
    "multiple_choice": AnswerKind.CHOICES,
    "checkbox": AnswerKind.CHECKBOX,
    # Not a form field type: the kind of SIGNUP_DATE.
    "date": AnswerKind.DATE,
}

#: The property type an answer goes to when neither the retailer nor the provider says.
NATURAL_TYPES: dict[AnswerKind, PropertyType] = {
    AnswerKind.TEXT: PropertyType.TEXT,
    AnswerKind.PHONE: PropertyType.PHONE,
    AnswerKind.CHOICE: PropertyType.ENUMERATION,
    AnswerKind.CHOICES: PropertyType.MULTI_SELECT,
    AnswerKind.CHECKBOX: PropertyType.BOOLEAN,
    AnswerKind.BIRTHDAY: PropertyType.BIRTHDAY,
    AnswerKind.DATE: PropertyType.DATE,
}

#: Which answers each type of property can take. Text takes anything (written as words); a
#: number only a choice whose options are all numbers (checked against the forms).
ACCEPTS: dict[PropertyType, frozenset[AnswerKind]] = {
    PropertyType.TEXT: frozenset(AnswerKind),
    PropertyType.NUMBER: frozenset({AnswerKind.CHOICE}),
    PropertyType.DATE: frozenset({AnswerKind.DATE}),
    PropertyType.ENUMERATION: frozenset({AnswerKind.CHOICE}),
    PropertyType.MULTI_SELECT: frozenset({AnswerKind.CHOICE, AnswerKind.CHOICES}),
    PropertyType.BOOLEAN: frozenset({AnswerKind.CHECKBOX}),
    PropertyType.PHONE: frozenset({AnswerKind.PHONE}),
    PropertyType.BIRTHDAY: frozenset({AnswerKind.BIRTHDAY}),
}

#: Where a text value may go when a provider writes it. Every answer kept as text (a choice, a
#: phone number, free text) reaches the provider as a plain string, so which kind it was is the
#: mapping screen's to check; here only whether the value reads as the type is.
TEXT_TARGETS = frozenset(
    {
        PropertyType.TEXT,
        PropertyType.NUMBER,
        PropertyType.ENUMERATION,
        PropertyType.MULTI_SELECT,
        PropertyType.PHONE,
    }
)

_KIND_WORDS = {
    AnswerKind.TEXT: "a free-text answer",
    AnswerKind.PHONE: "a phone number",
    AnswerKind.CHOICE: "a single choice",
    AnswerKind.CHOICES: "a multiple choice",
    AnswerKind.CHECKBOX: "a checkbox",
    AnswerKind.BIRTHDAY: "a birthday (month and day, no year)",
    AnswerKind.DATE: "a date",
}


@dataclass(frozen=True)
class Birthday:
    """A birthday as the kiosk asks it: month and day, no year."""

    month: int
    day: int

    def __str__(self) -> str:
        return f"{self.month:02d}-{self.day:02d}"


class UnconvertibleError(ValueError):
    """This value cannot be written as that type; the message says why, for the retailer."""


@dataclass(frozen=True)
class Dialect:
    """How one CRM writes each type of property."""

    vendor: str
    #: The types its properties can have.
    types: frozenset[PropertyType]
    #: Its standard properties and their types.
    known: Mapping[str, PropertyType] = field(default_factory=dict)
    #: Properties CustomerInfo writes itself (the key, the consent evidence): never mapped.
    reserved: frozenset[str] = frozenset()
    #: HubSpot takes every value as a string.
    strings_only: bool = False
    #: How a multi-select is joined, or None to send a JSON list.
    multi_separator: str | None = None
    #: A JSON ``true``/``false`` for booleans; otherwise the words below.
    json_booleans: bool = True
    #: Why a type this CRM lacks cannot be used, said the retailer's way.
    missing_type_advice: Mapping[PropertyType, str] = field(default_factory=dict)
    #: Property names compare without case (HubSpot names are lower case, Mailchimp tags upper).
    case_insensitive: bool = False
    #: Properties no mapping may name, and why (Mailchimp's all-or-nothing ADDRESS, say).
    refused: Mapping[str, str] = field(default_factory=dict)
    #: How a phone number (E.164) is written, when the CRM wants another form.
    phone_format: Callable[[str], str] | None = None

    def known_type(self, name: str) -> PropertyType | None:
        if self.case_insensitive:
            lowered = {key.casefold(): value for key, value in self.known.items()}
            return lowered.get(name.casefold())
        return self.known.get(name)

    def refusal(self, name: str) -> str | None:
        """Why no mapping may write this property, or None."""
        fold = str.casefold if self.case_insensitive else str
        if fold(name) in {fold(key) for key in self.reserved}:
            return f"“{name}” is written by CustomerInfo itself; choose another property."
        return next((why for key, why in self.refused.items() if fold(key) == fold(name)), None)

    def type_of(
        self, name: str, kind: AnswerKind, declared: Mapping[str, str] | None = None
    ) -> PropertyType:
        """The property's type: declared by the retailer, known to us, or the answer's own."""
        chosen = (declared or {}).get(name)
        if chosen in PROPERTY_TYPE_NAMES:
            return PropertyType(chosen)
        known = self.known_type(name)
        if known is not None:
            return known
        natural = NATURAL_TYPES[kind]
        # Where the CRM lacks the answer's natural type, it goes as words (Mailchimp has no
        # checkbox or multi-select merge field; only Mailchimp has a birthday without a year).
        return natural if natural in self.types else PropertyType.TEXT

    def convert(self, value: Any, kind: AnswerKind, target: PropertyType) -> Any:
        """``value`` written as ``target`` the way this CRM wants it, or UnconvertibleError."""
        if target not in self.types:
            raise UnconvertibleError(self.lacks(target))
        text = kind is AnswerKind.TEXT and isinstance(value, str) and target in TEXT_TARGETS
        if not text and kind not in ACCEPTS[target]:
            raise UnconvertibleError(
                f"{_KIND_WORDS[kind]} cannot go into {_a(target)} property".capitalize() + "."
            )
        written = self._written(value, target)
        if self.strings_only and not isinstance(written, str):
            return _text(written)
        return written

    def lacks(self, target: PropertyType) -> str:
        return self.missing_type_advice.get(target) or f"{self.vendor} has no {target} property."

    def _written(self, value: Any, target: PropertyType) -> Any:
        writers: dict[PropertyType, Callable[[], Any]] = {
            PropertyType.NUMBER: lambda: number(value),
            PropertyType.BOOLEAN: lambda: self._boolean(value),
            PropertyType.MULTI_SELECT: lambda: self._options(value),
            PropertyType.BIRTHDAY: lambda: f"{value.month:02d}/{value.day:02d}",
            PropertyType.DATE: lambda: date.isoformat(value),
            PropertyType.PHONE: lambda: (
                self.phone_format(str(value)) if self.phone_format else _text(value)
            ),
        }
        writer = writers.get(target)
        return writer() if writer is not None else _text(value)

    def _boolean(self, value: Any) -> Any:
        if self.json_booleans:
            return bool(value)
        return "true" if value else "false"

    def _options(self, value: Any) -> Any:
        chosen = [str(item) for item in (value if isinstance(value, list) else [value])]
        if self.multi_separator is None:
            return chosen
        separator = self.multi_separator
        if any(separator in item for item in chosen):
            raise UnconvertibleError(
                f"An option contains “{separator}”, which {self.vendor} uses between options."
            )
        return separator.join(chosen)


def _text(value: Any) -> str:
    """A value as words: lists joined by commas, checkboxes as Yes/No, birthdays as MM-DD."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def number(value: Any) -> int | float:
    """A choice's value as a number (``"3"`` -> 3, ``"2.5"`` -> 2.5), or UnconvertibleError."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UnconvertibleError(f"{value!r} is not a number.")
    try:
        parsed = float(value)
    except ValueError:
        raise UnconvertibleError(f"“{value}” is not a number.") from None
    if not math.isfinite(parsed):
        raise UnconvertibleError(f"“{value}” is not a number.")
    return int(parsed) if parsed.is_integer() and abs(parsed) < 2**53 else parsed


def kind_of(value: Any) -> AnswerKind:
    """The kind of a value as ``crm_sync.contacts`` builds it."""
    if isinstance(value, bool):
        return AnswerKind.CHECKBOX
    if isinstance(value, list):
        return AnswerKind.CHOICES
    if isinstance(value, Birthday):
        return AnswerKind.BIRTHDAY
    if isinstance(value, date):
        return AnswerKind.DATE
    if isinstance(value, int | float):
        # A number given as such (a Contact built in code) reads like a numeric choice.
        return AnswerKind.CHOICE
    return AnswerKind.TEXT


def json_value(value: Any) -> Any:
    """A mapped value as plain JSON, for the webhook's body (which keeps lists and booleans)."""
    if isinstance(value, Birthday):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class Mapped:
    """A contact's mapped properties in the vendor's format, and what had to be left out."""

    values: dict[str, Any]
    notes: list[str]


def convert_all(
    dialect: Dialect, properties: Mapping[str, Any], declared: Mapping[str, str] | None
) -> Mapped:
    values: dict[str, Any] = {}
    notes: list[str] = []
    for name, value in properties.items():
        if value is None or value in ("", []):
            continue
        refusal = dialect.refusal(name)
        if refusal is not None:
            notes.append(f"{name}: {refusal}")
            continue
        kind = kind_of(value)
        try:
            values[name] = dialect.convert(value, kind, dialect.type_of(name, kind, declared))
        except UnconvertibleError as error:
            notes.append(f"{name}: {error}")
    return Mapped(values, notes)


@dataclass(frozen=True)
class FieldUse:
    """A form field as it appears in one form version: its type and its options' values."""

    field_type: str
    options: tuple[str, ...] = ()


def mapping_problem(
    dialect: Dialect,
    *,
    form_field: str,
    crm_property: str,
    declared: PropertyType | None,
    uses: Iterable[FieldUse],
) -> str | None:
    """Why ``form_field`` cannot go to ``crm_property`` in this CRM, or None when it can."""
    refusal = dialect.refusal(crm_property)
    if refusal is not None:
        return refusal
    for use in uses:
        kind = FIELD_KINDS.get(use.field_type)
        if kind is None:
            continue
        target = declared or dialect.type_of(crm_property, kind)
        if target not in dialect.types:
            return dialect.lacks(target)
        if kind not in ACCEPTS[target]:
            return f"“{form_field}” is {_KIND_WORDS[kind]}; {_a(target)} property cannot take it."
        if target is PropertyType.NUMBER:
            words = [option for option in use.options if not _is_number(option)]
            if words:
                return f"“{form_field}” has options that are not numbers: {', '.join(words)}."
        if target is PropertyType.MULTI_SELECT and dialect.multi_separator:
            separator = dialect.multi_separator
            if any(separator in option for option in use.options):
                return (
                    f"An option of “{form_field}” contains “{separator}”, which {dialect.vendor} "
                    "uses between options."
                )
    return None


def _a(target: PropertyType) -> str:
    return f"{'an' if target[0] in 'aeiou' else 'a'} {target}"


def _is_number(text: str) -> bool:
    try:
        number(text)
    except UnconvertibleError:
        return False
    return True
