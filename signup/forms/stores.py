"""A store: where it is, which form its tablets show, and its own welcome and thank-you texts."""

from typing import Any, cast
from zoneinfo import available_timezones

from django import forms
from django.utils.translation import gettext_lazy as _

from customerinfo.core.accounts.models import User

from ..definitions import LANGUAGES, LocalisedText
from ..models import Form, Location
from ..selectors.access import staff_members, store_staff
from .labels import LANGUAGE_NAMES

#: The texts a store may word its own way; the rest of the form is the form's.
STORE_TEXTS = ("welcome", "thank_you")


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone) for zone in sorted(available_timezones())]


class FormChoiceField(forms.ModelChoiceField[Form]):
    """Forms by name, saying which are not published: a store given one takes no sign-ups."""

    def label_from_instance(self, obj: Form) -> str:
        if obj.current_version_id:
            return obj.name
        return _("%(name)s — not published") % {"name": obj.name}


class LocationForm(forms.Form):
    name = forms.CharField(max_length=120, label=_("Name"))
    code = forms.SlugField(
        max_length=40,
        label=_("Code"),
        help_text=_("Short and unique, e.g. paris-rivoli. It cannot change later."),
    )
    country = forms.CharField(
        min_length=2,
        max_length=2,
        label=_("Country"),
        help_text=_("Two letters, e.g. FR. Phone numbers default to it."),
    )
    time_zone = forms.ChoiceField(choices=_time_zone_choices, label=_("Time zone"))
    form = FormChoiceField(
        queryset=Form.objects.all(),
        required=False,
        empty_label=_("The brand form"),
        label=_("Form shown on its tablets"),
    )
    language = forms.ChoiceField(
        # The languages by their own names (LANGUAGE_NAMES): a reader finds theirs in any.
        choices=[("", _("The form's first language")), *LANGUAGE_NAMES.items()],
        required=False,
        label=_("Tablet language"),
        help_text=_("The language its tablets return to after each shopper, if the form has it."),
    )


class StaffChoiceField(forms.ModelMultipleChoiceField[User]):
    """Staff members by name and address (two Sams are told apart)."""

    def label_from_instance(self, obj: User) -> str:
        return f"{obj.full_name} ({obj.email})" if obj.full_name else obj.email


class LocationEditForm(LocationForm):
    staff = StaffChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Staff who work here"),
        help_text=_(
            "A staff member ticked at one or more stores sees only those stores: their "
            "sign-ups, tablets, alerts and digest. A staff member ticked nowhere sees every "
            "store. Owners and managers always see every store."
        ),
    )
    is_active = forms.BooleanField(
        required=False,
        label=_("Open (its tablets take sign-ups)"),
        help_text=_(
            "Closing a store stops its tablets taking new sign-ups; sign-ups captured "
            "before it closed still arrive."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["code"]
        cast(StaffChoiceField, self.fields["staff"]).queryset = staff_members()
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
            "staff": [member.pk for member in store_staff(location=location)],
        }
        texts = (location.overrides or {}).get("texts", {})
        for text in STORE_TEXTS:
            for language in LANGUAGES:
                initial[f"{text}_{language}"] = texts.get(text, {}).get(language, "")
        return initial
