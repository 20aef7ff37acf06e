"""Checking a shopper's answers against the published form version they were captured with."""

import calendar
import re
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from customerinfo.errors import FieldErrors, ServiceError

POSTAL_CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,18}[A-Za-z0-9]$")
MAX_TEXT = 200
_email_validator = EmailValidator()


@dataclass
class CleanAnswers:
    """Answers ready to store: standard fields as columns, the rest by key."""

    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    birthday_month: int | None = None
    birthday_day: int | None = None
    postal_code: str = ""
    custom: dict[str, Any] = field(default_factory=dict)
    consents: dict[str, bool] = field(default_factory=dict)


def normalise_email(value: str) -> str:
    """Trimmed and lowercased: the same shopper typing ``Ann@Example.com`` is one contact."""
    return value.strip().lower()


def _empty(value: Any) -> bool:
    return value is None or value in ("", []) or value is False


class _InvalidAnswerError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _email(value: Any, _spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    clean.email = normalise_email(str(value))
    try:
        _email_validator(clean.email)
    except ValidationError:
        raise _InvalidAnswerError("invalid_email", "Enter a valid email address.") from None


def _name(value: Any, spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    text = str(value).strip()
    if len(text) > 100:
        raise _InvalidAnswerError("too_long", "At most 100 characters.")
    setattr(clean, spec["type"], text)


def _phone(value: Any, _spec: dict[str, Any], country: str, clean: CleanAnswers) -> None:
    try:
        number = phonenumbers.parse(str(value), country or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise _InvalidAnswerError("invalid_phone", "Enter a valid phone number.")
    clean.phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _birthday(value: Any, _spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    month, day = (value.get("month"), value.get("day")) if isinstance(value, dict) else (0, 0)
    # 2000 is a leap year, so 29 February counts as a birthday.
    if not (
        isinstance(month, int)
        and isinstance(day, int)
        and 1 <= month <= 12
        and 1 <= day <= calendar.monthrange(2000, month)[1]
    ):
        raise _InvalidAnswerError("invalid_birthday", "Enter a real month and day.")
    clean.birthday_month, clean.birthday_day = month, day


def _postal_code(value: Any, _spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    clean.postal_code = str(value).strip().upper()
    if not POSTAL_CODE_PATTERN.match(clean.postal_code):
        raise _InvalidAnswerError("invalid_postal_code", "Enter a valid postal code.")


def _choice(value: Any, spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    allowed = {option["value"] for option in spec["options"]}
    multiple = spec["type"] == "multiple_choice"
    chosen = value if multiple else [value]
    if not isinstance(chosen, list) or not all(isinstance(v, str) and v in allowed for v in chosen):
        raise _InvalidAnswerError("invalid_choice", "Choose among the options shown.")
    clean.custom[spec["key"]] = value


def _checkbox(value: Any, spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    if not isinstance(value, bool):
        raise _InvalidAnswerError("invalid", "Expected true or false.")
    clean.custom[spec["key"]] = value


def _short_text(value: Any, spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise _InvalidAnswerError("too_long", f"At most {MAX_TEXT} characters.")
    clean.custom[spec["key"]] = text


_CHECKS = {
    "email": _email,
    "first_name": _name,
    "last_name": _name,
    "phone": _phone,
    "birthday": _birthday,
    "postal_code": _postal_code,
    "single_choice": _choice,
    "multiple_choice": _choice,
    "checkbox": _checkbox,
    "short_text": _short_text,
}


def answers_clean(
    *, definition: dict[str, Any], answers: Any, consents: Any, country: str
) -> CleanAnswers:
    """Validates everything and raises one ServiceError listing every field's problem."""
    if not isinstance(answers, dict):
        raise ServiceError("validation_failed", "answers must be a JSON object.")
    if not isinstance(consents, dict):
        raise ServiceError("validation_failed", "consents must be a JSON object.")
    errors: FieldErrors = {}

    def fail(key: str, code: str, message: str) -> None:
        errors.setdefault(key, []).append({"code": code, "message": message})

    clean = CleanAnswers()
    fields = {f["key"]: f for f in definition["fields"]}
    for key in answers.keys() - fields.keys():
        fail(key, "unknown_field", "This form has no such field.")
    for key, spec in fields.items():
        value = answers.get(key)
        if _empty(value):
            if spec.get("required"):
                fail(key, "required", "This field is required.")
            continue
        try:
            _CHECKS[spec["type"]](value, spec, country, clean)
        except _InvalidAnswerError as invalid:
            fail(key, invalid.code, invalid.message)
    offered = {name for name, spec in definition.get("consents", {}).items() if spec.get("enabled")}
    for channel, granted in consents.items():
        if channel not in offered:
            fail(f"consents.{channel}", "unknown_consent", "This form does not ask for it.")
        elif not isinstance(granted, bool):
            fail(f"consents.{channel}", "invalid", "Expected true or false.")
    # A consent box left unticked, or not sent at all, is a refusal: never a grant.
    clean.consents = {channel: consents.get(channel) is True for channel in sorted(offered)}
    if clean.consents.get("sms") and not clean.phone and "phone" not in errors:
        fail("consents.sms", "phone_required", "SMS consent needs a phone number.")
    if errors:
        raise ServiceError("validation_failed", "Some answers are not valid.", fields=errors)
    return clean
