"""Filtering the list of sign-ups, and jumping to a date in it."""

from collections.abc import Iterator
from typing import Any, cast

from django import forms
from django.db.models import Model
from django.forms.models import ModelChoiceIterator
from django.utils.translation import gettext_lazy as _

from ..models import Form, Location
from ..selectors import ConsentFilter, SignupFilters, StoreScope, filters_zone

CONSENT_CHOICES = [
    (ConsentFilter.ANY.value, _("Any")),
    (ConsentFilter.EMAIL.value, _("Email marketing given")),
    (ConsentFilter.SMS.value, _("SMS marketing given")),
    (ConsentFilter.NONE.value, _("No consent given")),
]


class _ListedChoices(ModelChoiceIterator[Model]):
    """The choices from one plain query: Django's own iterator reads them through a server-side
    cursor (DECLARE, FETCH, CLOSE), three round trips for a list of stores on every page."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for choice in list(self.queryset):
            yield self.choice(choice)


class _ListedModelChoiceField(forms.ModelChoiceField[Model]):
    iterator = _ListedChoices


def _date_input() -> forms.DateInput:
    # A date input takes ISO dates whatever the page's language (French would write 14/03/2025).
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class SubmissionFilterForm(forms.Form):
    email = forms.CharField(
        required=False,
        label=_("Email"),
        help_text=_("A whole address, or part of one."),
    )
    date_from = forms.DateField(required=False, label=_("From"), widget=_date_input())
    date_to = forms.DateField(required=False, label=_("To"), widget=_date_input())
    location = _ListedModelChoiceField(
        queryset=Location.objects.all(),
        required=False,
        empty_label=_("All stores"),
        label=_("Store"),
    )
    form = _ListedModelChoiceField(
        queryset=Form.objects.all(), required=False, empty_label=_("All forms"), label=_("Form")
    )
    consent = forms.ChoiceField(choices=CONSENT_CHOICES, required=False, label=_("Consent"))

    def __init__(self, *args: Any, scope: StoreScope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scope = scope
        # Only the stores the member sees are offered; another store's id is an invalid
        # choice, ignored like any other (the list is never widened by it).
        cast(_ListedModelChoiceField, self.fields["location"]).queryset = scope.stores()

    def signup_filters(self) -> SignupFilters:
        """The filters as the list and the export apply them; an invalid value is ignored."""
        self.is_valid()
        data = self.cleaned_data
        location = data.get("location")
        return SignupFilters(
            email=data.get("email") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            location=location,
            form=data.get("form"),
            consent=ConsentFilter(data.get("consent") or ""),
            zone=filters_zone(location=location, scope=self.scope),
            scope=self.scope,
        )


class DateJumpForm(forms.Form):
    """ "Go to date": the page of sign-ups received on that day and just before it."""

    go = forms.DateField(required=False, label=_("Go to date"), widget=_date_input())
