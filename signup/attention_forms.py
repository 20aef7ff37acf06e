"""What the "Needs attention" pages show and take: words, kept-apart records, release forms.

A set-aside answer is corrected with the control its field asks for (a text box, radio buttons,
check boxes), built from the field's spec in the form version the shopper saw, so a manager
cannot type an answer the tablet could not have offered. Whether the correction is valid is the
service's decision (``set_aside_release``), made with the tablet's own rules; these forms only
turn what the browser posts into the value the service expects.
"""

import hashlib
import json
import re
import unicodedata
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .forms import TYPE_NAMES, _in_language
from .models import RejectedSubmission, Submission

#: Refusal codes in plain words: the manager reads these, the code is shown beside them.
REFUSAL_WORDS = {
    # A tablet's held sign-ups and rejected sign-ups (refused whole).
    "invalid_email": _("invalid email"),
    "validation_failed": _("not valid"),
    "unknown_form_version": _("unknown form version"),
    "location_closed": _("store closed"),
    "id_conflict": _("id used by another tablet"),
    "too_large": _("too large"),
    "malformed_request": _("unreadable"),
    # Answers set aside on a stored sign-up.
    "invalid_phone": _("not a valid phone number"),
    "invalid_postal_code": _("not a valid postal code"),
    "invalid_birthday": _("not a real month and day"),
    "invalid_choice": _("not one of the options"),
    "invalid_characters": _("holds characters that cannot be kept"),
    "invalid": _("not the expected kind of answer"),
    "too_long": _("too long"),
    "required": _("missing"),
    "unknown_field": _("the form has no such question"),
    "unknown_consent": _("the form asks for no such consent"),
    "phone_required": _("SMS consent given without a phone number"),
    "in_future": _("the tablet's clock was ahead"),
}

#: Why a whole sign-up was refused, as a sentence for its own page.
REJECTION_REASONS = {
    "validation_failed": _("It has no usable email address."),
    "unknown_form_version": _("It was sent with a form version this shop does not have."),
    "location_closed": _("Its store had closed before it was captured."),
    "id_conflict": _("Another tablet had already sent a sign-up with the same id."),
    "too_large": _("It was too large to store."),
}


def refusal_words(code: str) -> str:
    """A code in plain words; an unknown code as it is (the page escapes it)."""
    return str(REFUSAL_WORDS.get(code, code))


# Controls, bidirectional overrides and zero-width characters: invisible or misleading on a
# page, yet often the reason an answer was refused, so they are shown as their code points.
_HIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def shown(value: Any) -> str:
    """An answer as the shopper typed it, with every invisible character made visible."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "".join(
        f"⟨U+{ord(char):04X}⟩" if unicodedata.category(char) in _HIDDEN_CATEGORIES else char
        for char in text
    )


def as_text(value: Any) -> str:
    """An answer as text, as it was typed, for an input's initial value or a CSV cell."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def form_prefix(key: str) -> str:
    """A prefix for one answer's inputs: keys come from tablets and may hold any character."""
    return "answer-" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:12]


# --- what the pages show -----------------------------------------------------------------------

#: What a set-aside key that is not a form field stands for.
_KEY_NAMES = {
    "email": _("Email"),
    "consents.sms": _("SMS consent"),
    "consents.email": _("Email consent"),
    "captured_at": _("Time captured on the tablet"),
    "answers": _("All answers"),
    "consents": _("All consents"),
}
#: Set aside, yet nothing to correct: the answer can only be discarded. Why, in words.
_DISCARD_ONLY = {
    "captured_at": _(
        "The sign-up was stored with the time it arrived; this is the tablet's claim."
    ),
    "unknown_field": _("The form has no such question, so there is nowhere to put it."),
    "unknown_consent": _("The form asks for no such consent, so there is nothing to record."),
}


def submission_language(submission: Submission) -> str:
    languages = submission.form_version.definition.get("languages") or ["en"]
    return submission.locale if submission.locale in languages else languages[0]


def field_spec(submission: Submission, key: str) -> dict[str, Any] | None:
    fields = submission.form_version.definition.get("fields", [])
    return next((field for field in fields if field.get("key") == key), None)


def releasable(submission: Submission, key: str) -> bool:
    """Whether a correction can be released: a field of the form (not its email) or SMS tick."""
    spec = field_spec(submission, key)
    return key == "consents.sms" or (spec is not None and spec["type"] != "email")


def answer_present(submission: Submission, key: str, entry: Any) -> dict[str, Any]:
    entry = entry if isinstance(entry, dict) else {"value": entry}
    spec = field_spec(submission, key)
    code = str(entry.get("code", ""))
    label = _in_language(spec.get("label"), submission_language(submission)) if spec else ""
    return {
        "key": key,
        "label": label or str(_KEY_NAMES.get(key) or f"“{key}”"),
        "typed": shown(entry.get("value")),
        "code": code,
        "words": refusal_words(code),
        "message": str(entry.get("message", "")),
        "releasable": releasable(submission, key),
        "discard_only": str(_DISCARD_ONLY.get(key) or _DISCARD_ONLY.get(code) or ""),
        "prefix": form_prefix(key),
    }


def payload_sent(rejection: RejectedSubmission) -> dict[str, Any]:
    """The payload as the tablet sent it, when it is a JSON object; else nothing of it."""
    try:
        data = json.loads(rejection.payload)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def sent_answers(rejection: RejectedSubmission) -> dict[str, Any]:
    answers = payload_sent(rejection).get("answers")
    return answers if isinstance(answers, dict) else {}


def typed_email(rejection: RejectedSubmission) -> str:
    typed = sent_answers(rejection).get("email")
    return rejection.email or (typed if isinstance(typed, str) else "")


def _problems(rejection: RejectedSubmission) -> list[dict[str, str]]:
    """The field errors it was refused with, each with the answer as typed."""
    answers = sent_answers(rejection)
    problems = []
    fields = rejection.fields if isinstance(rejection.fields, dict) else {}
    for key, errors in fields.items():
        for error in errors if isinstance(errors, list) else []:
            code = str(error.get("code", "")) if isinstance(error, dict) else ""
            problems.append(
                {
                    "label": str(_KEY_NAMES.get(key) or key),
                    "typed": shown(answers.get(key)),
                    "code": code,
                    "words": refusal_words(code),
                }
            )
    return problems


def rejection_present(rejection: RejectedSubmission) -> dict[str, Any]:
    return {
        "reason": str(REJECTION_REASONS.get(rejection.code) or rejection.message),
        "words": refusal_words(rejection.code),
        "email": shown(typed_email(rejection)),
        "problems": _problems(rejection),
    }


# --- the forms ---------------------------------------------------------------------------------

_BIRTHDAY = re.compile(r"^\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})\s*$")
_REQUIRED = _("Give the corrected answer, or discard it.")


class AnswerReleaseForm(forms.Form):
    """One set-aside answer, corrected. ``value`` is absent for the SMS consent's tick."""

    def __init__(
        self, *args: Any, spec: dict[str, Any] | None, language: str, typed: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
        self.spec = spec
        if spec is None:
            return  # the SMS consent: releasing it needs no value
        label = _in_language(spec.get("label"), language) or str(TYPE_NAMES.get(spec["type"], ""))
        self.fields["value"] = _control(spec, label, language)
        self.initial.setdefault("value", _initial(spec, typed))

    def clean_value(self) -> Any:
        """The value in the shape the answer check takes: text, a list, a bool, a date."""
        value = self.cleaned_data["value"]
        kind = self.spec["type"] if self.spec else ""
        if kind == "checkbox":
            return True
        if kind == "birthday":
            match = _BIRTHDAY.match(value)
            if match is None:
                raise forms.ValidationError(_("Type the month and day as MM-DD, e.g. 03-14."))
            return {"month": int(match.group(1)), "day": int(match.group(2))}
        return value

    def release_value(self) -> Any:
        return self.cleaned_data.get("value")


def _options(spec: dict[str, Any], language: str) -> list[tuple[str, str]]:
    return [
        (str(option["value"]), _in_language(option.get("label"), language) or option["value"])
        for option in spec.get("options", [])
        if isinstance(option, dict) and "value" in option
    ]


def _control(spec: dict[str, Any], label: str, language: str) -> forms.Field:
    kind = spec["type"]
    errors = {"required": _REQUIRED}
    if kind == "single_choice":
        return forms.ChoiceField(
            label=label,
            choices=_options(spec, language),
            widget=forms.RadioSelect,
            error_messages=errors,
        )
    if kind == "multiple_choice":
        return forms.MultipleChoiceField(
            label=label,
            choices=_options(spec, language),
            widget=forms.CheckboxSelectMultiple,
            error_messages=errors,
        )
    if kind == "checkbox":
        # Only "ticked" can be released: an unticked box is no answer, which is what
        # discarding leaves on the sign-up.
        return forms.BooleanField(
            label=gettext("%(label)s: ticked") % {"label": label},
            help_text=_("If the shopper did not tick it, discard the answer instead."),
            error_messages={"required": _("Tick it to release it, or discard the answer.")},
        )
    attributes = {"autocomplete": "off", "spellcheck": "false"}
    help_text = ""
    if kind == "phone":
        attributes.update(type="tel", inputmode="tel")
        help_text = gettext("With the country code if it is not the store's, e.g. +44 7700 900123.")
    elif kind == "birthday":
        help_text = gettext("Month and day, as MM-DD, e.g. 03-14.")
    return forms.CharField(
        label=label,
        max_length=300,
        help_text=help_text,
        widget=forms.TextInput(attrs=attributes),
        error_messages=errors,
    )


def _initial(spec: dict[str, Any], typed: Any) -> Any:
    kind = spec["type"]
    if kind == "birthday" and isinstance(typed, dict):
        month, day = typed.get("month"), typed.get("day")
        if type(month) is int and type(day) is int:
            return f"{month:02d}-{day:02d}"
    if kind == "single_choice":
        return typed if isinstance(typed, str) else None
    if kind == "multiple_choice":
        return [item for item in typed if isinstance(item, str)] if isinstance(typed, list) else []
    if kind == "checkbox":
        return typed is True
    return as_text(typed)


class RejectionReleaseForm(forms.Form):
    """A rejected sign-up's email, corrected; the rest is stored as the tablet sent it."""

    email = forms.CharField(
        label=_("Email address"),
        max_length=254,
        help_text=_("Checked with the tablet's own rules when you release it."),
        widget=forms.EmailInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        error_messages={"required": _("Type the shopper's email address, or discard the sign-up.")},
    )


class RejectionDiscardForm(forms.Form):
    reason = forms.CharField(
        label=_("Why (optional, kept in the audit log)"),
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
