"""Checking a shopper's answers against the published form version they were captured with.

The tablet has already thanked the shopper when these checks run, so they sort rather than
refuse: an answer that fails is *set aside* (kept with its code, never sent to a CRM) and the
sign-up is stored all the same. Only a sign-up with no usable email is refused whole, because
an email is what a sign-up is. The tablet runs the same rules before it thanks anyone: they go
to it in the form payload (``kiosk_rules``), written so that JavaScript's ``RegExp`` and Python's
``re`` read them alike (ASCII classes only, anchored, no flags).
"""

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from customerinfo.core.errors import FieldErrors, ServiceError

EMAIL_PATTERN = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$"
)
EMAIL_MAX_LENGTH = 254
POSTAL_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 -]{1,18}[A-Za-z0-9]$"
NAME_MAX_LENGTH = 100
TEXT_MAX_LENGTH = 200
_EMAIL = re.compile(EMAIL_PATTERN)
_POSTAL_CODE = re.compile(POSTAL_CODE_PATTERN)
#: What "trimmed" means on both sides: ASCII whitespace only. Python's str.strip() and
#: JavaScript's trim() disagree on a few Unicode spaces; this set they agree on.
_SPACES = " \t\n\r\f\v"
#: Characters PostgreSQL cannot store (NUL) or UTF-8 cannot encode (lone surrogates).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def kiosk_rules(*, country: str) -> dict[str, Any]:
    """The rules a tablet checks answers with before it thanks the shopper."""
    return {
        "email_pattern": EMAIL_PATTERN,
        "email_max_length": EMAIL_MAX_LENGTH,
        "name_max_length": NAME_MAX_LENGTH,
        "text_max_length": TEXT_MAX_LENGTH,
        "postal_code_pattern": POSTAL_CODE_PATTERN,
        "phone_country": country,
    }


@dataclass
class CleanAnswers:
    """Answers ready to store: standard fields as columns, the rest by key.

    ``problems`` lists every answer the server refuses; those are also in ``set_aside`` unless
    the sign-up is ``refused`` whole (no usable email).
    """

    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    birthday_month: int | None = None
    birthday_day: int | None = None
    postal_code: str = ""
    custom: dict[str, Any] = field(default_factory=dict)
    consents: dict[str, bool] = field(default_factory=dict)
    set_aside: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: FieldErrors = field(default_factory=dict)
    refused: bool = False

    def refusal(self) -> ServiceError:
        return ServiceError(
            "validation_failed",
            "The sign-up has no usable email address.",
            fields=self.problems,
        )


def trimmed(value: str) -> str:
    return value.strip(_SPACES)


def normalise_email(value: str) -> str:
    """Trimmed and lowercased: the same shopper typing ``Ann@Example.com`` is one contact."""
    return trimmed(value).lower()


def storable(value: Any) -> Any:
    """``value`` with every character PostgreSQL or UTF-8 cannot hold replaced by U+FFFD."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(str(key)): storable(item) for key, item in value.items()}
    return value


def _empty(value: Any) -> bool:
    return value is None or value in ("", []) or value is False


class InvalidAnswerError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _text(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidAnswerError("invalid", "Expected text.")
    text = str(value)
    if _UNSTORABLE.search(text):
        raise InvalidAnswerError("invalid_characters", "This contains characters we cannot keep.")
    return trimmed(text)


def _email(value: Any, _spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    try:
        email = normalise_email(_text(value))
    except InvalidAnswerError:
        email = ""
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL.fullmatch(email):
        raise InvalidAnswerError("invalid_email", "Enter a valid email address.")
    clean.email = email


def _name(value: Any, spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    text = _text(value)
    if len(text) > NAME_MAX_LENGTH:
        raise InvalidAnswerError("too_long", f"At most {NAME_MAX_LENGTH} characters.")
    setattr(clean, spec["type"], text)


def _phone(value: Any, _spec: dict[str, Any], country: str, clean: CleanAnswers) -> None:
    text = _text(value)
    try:
        number = phonenumbers.parse(text, country or None) if len(text) <= 40 else None
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidAnswerError("invalid_phone", "Enter a valid phone number.")
    clean.phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _birthday(value: Any, _spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    month, day = (value.get("month"), value.get("day")) if isinstance(value, dict) else (0, 0)
    # 2000 is a leap year, so 29 February counts as a birthday. bool is an int in Python.
    if not (
        type(month) is int
        and type(day) is int
        and 1 <= month <= 12
        and 1 <= day <= calendar.monthrange(2000, month)[1]
    ):
        raise InvalidAnswerError("invalid_birthday", "Enter a real month and day.")
    clean.birthday_month, clean.birthday_day = month, day


def _postal_code(value: Any, _spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    code = _text(value).upper()
    if not _POSTAL_CODE.fullmatch(code):
        raise InvalidAnswerError("invalid_postal_code", "Enter a valid postal code.")
    clean.postal_code = code


def _choice(value: Any, spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    allowed = {option["value"] for option in spec["options"]}
    multiple = spec["type"] == "multiple_choice"
    chosen = value if multiple else [value]
    if not isinstance(chosen, list) or not all(isinstance(v, str) and v in allowed for v in chosen):
        raise InvalidAnswerError("invalid_choice", "Choose among the options shown.")
    clean.custom[spec["key"]] = value


def _checkbox(value: Any, spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    if not isinstance(value, bool):
        raise InvalidAnswerError("invalid", "Expected true or false.")
    clean.custom[spec["key"]] = value


def _short_text(value: Any, spec: dict[str, Any], _country: str, clean: CleanAnswers) -> None:
    text = _text(value)
    if len(text) > TEXT_MAX_LENGTH:
        raise InvalidAnswerError("too_long", f"At most {TEXT_MAX_LENGTH} characters.")
    clean.custom[spec["key"]] = text


_CHECKS: dict[str, Callable[[Any, dict[str, Any], str, CleanAnswers], None]] = {
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


def answer_check(*, spec: dict[str, Any], value: Any, country: str, clean: CleanAnswers) -> None:
    """Checks one answer into ``clean``; raises InvalidAnswerError. Used again on release."""
    if _empty(value):
        if spec.get("required"):
            raise InvalidAnswerError("required", "This field is required.")
        return
    _CHECKS[spec["type"]](value, spec, country, clean)


def answers_sort(
    *, definition: dict[str, Any], answers: Any, consents: Any, country: str
) -> CleanAnswers:
    """Sorts the answers into what is stored and what is set aside; never raises.

    ``refused`` is set when there is no usable email: the only fault that refuses a sign-up.
    """
    clean = CleanAnswers()

    def set_aside(key: str, value: Any, code: str, message: str) -> None:
        key = storable(key)
        clean.problems.setdefault(key, []).append({"code": code, "message": message})
        clean.set_aside.setdefault(
            key, {"value": storable(value), "code": code, "message": message}
        )

    if not isinstance(answers, dict):
        set_aside("answers", answers, "invalid", "Answers must be a JSON object.")
        answers = {}
    if not isinstance(consents, dict):
        set_aside("consents", consents, "invalid", "Consents must be a JSON object.")
        consents = {}
    fields = {f["key"]: f for f in definition["fields"]}
    for key in answers.keys() - fields.keys():
        set_aside(key, answers[key], "unknown_field", "This form has no such field.")
    for key, spec in fields.items():
        value = answers.get(key)
        try:
            answer_check(spec=spec, value=value, country=country, clean=clean)
        except InvalidAnswerError as invalid:
            set_aside(key, value, invalid.code, invalid.message)
    if not clean.email:
        clean.refused = True
        clean.set_aside.pop("email", None)
        clean.problems.setdefault(
            "email", [{"code": "required", "message": "This field is required."}]
        )
    _consents_sort(definition=definition, consents=consents, clean=clean, set_aside=set_aside)
    return clean


def _consents_sort(
    *,
    definition: dict[str, Any],
    consents: dict[Any, Any],
    clean: CleanAnswers,
    set_aside: Callable[[str, Any, str, str], None],
) -> None:
    offered = {name for name, spec in definition.get("consents", {}).items() if spec.get("enabled")}
    for channel, granted in consents.items():
        if channel not in offered:
            set_aside(f"consents.{channel}", granted, "unknown_consent", "No such consent.")
        elif not isinstance(granted, bool):
            set_aside(f"consents.{channel}", granted, "invalid", "Expected true or false.")
    # A consent box left unticked, or not sent at all, is a refusal: never a grant.
    clean.consents = {channel: consents.get(channel) is True for channel in sorted(offered)}
    if clean.consents.get("sms") and not clean.phone:
        # Evidence of a grant with no number to send to: recorded as refused, the tick kept
        # apart so a manager who fixes the number can release the grant with it.
        clean.consents["sms"] = False
        set_aside("consents.sms", True, "phone_required", "SMS consent needs a phone number.")
