"""A store: where it is, which form its tablets show, and its own welcome and thank-you texts."""

from typing import Any
from zoneinfo import available_timezones

from django import forms

from ..definitions import LANGUAGES, LocalisedText
from ..models import Form, Location
from .labels import LANGUAGE_NAMES

#: The texts a store may word its own way; the rest of the form is the form's.
STORE_TEXTS = ("welcome", "thank_you")


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone) for zone in sorted(available_timezones())]


class FormChoiceField(forms.ModelChoiceField[Form]):
    """Forms by name, saying which are not published: a store given one takes no sign-ups."""

    def label_from_instance(self, obj: Form) -> str:
        return obj.name if obj.current_version_id else f"{obj.name} — not published"


class LocationForm(forms.Form):
    name = forms.CharField(max_length=120)
    code = forms.SlugField(
        max_length=40, help_text="Short and unique, e.g. paris-rivoli. It cannot change later."
    )
    country = forms.CharField(
        min_length=2, max_length=2, help_text="Two letters, e.g. FR. Phone numbers default to it."
    )
    time_zone = forms.ChoiceField(choices=_time_zone_choices)
    form = FormChoiceField(
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
        for text in STORE_TEXTS:
            for language in LANGUAGES:
                self.fields[f"{text}_{language}"] = forms.CharField(
                    required=False, max_length=300, label=LANGUAGE_NAMES[language]
                )

    def overrides(self) -> dict[str, dict[str, LocalisedText]]:
        """The store's text overrides; empty languages fall back to the form's own text."""
        texts: dict[str, LocalisedText] = {}
        for text in STORE_TEXTS:
            values = {
                language: self.cleaned_data[f"{text}_{language}"].strip()
                for language in LANGUAGES
                if self.cleaned_data[f"{text}_{language}"].strip()
            }
            if values:
                texts[text] = values
        return {"texts": texts} if texts else {}

    @staticmethod
    def initial_for(location: Location) -> dict[str, object]:
        initial: dict[str, object] = {
            "name": location.name,
            "country": location.country,
            "time_zone": location.time_zone,
            "form": location.form_id,
            "language": location.language,
            "is_active": location.is_active,
        }
        texts = (location.overrides or {}).get("texts", {})
        for text in STORE_TEXTS:
            for language in LANGUAGES:
                initial[f"{text}_{language}"] = texts.get(text, {}).get(language, "")
        return initial
