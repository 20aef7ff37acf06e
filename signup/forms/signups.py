"""Filtering the list of sign-ups, and jumping to a date in it."""

from collections.abc import Iterator
from typing import Any

from django import forms
from django.db.models import Model
from django.forms.models import ModelChoiceIterator

from ..models import Form, Location
from ..selectors import ConsentFilter, SignupFilters, filters_zone

CONSENT_CHOICES = [
    (ConsentFilter.ANY.value, "Any"),
    (ConsentFilter.EMAIL.value, "Email marketing given"),
    (ConsentFilter.SMS.value, "SMS marketing given"),
    (ConsentFilter.NONE.value, "No consent given"),
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
    return forms.DateInput(attrs={"type": "date"})


class SubmissionFilterForm(forms.Form):
    email = forms.CharField(
        required=False,
        label="Email",
        help_text="A whole address, or part of one.",
    )
    date_from = forms.DateField(required=False, label="From", widget=_date_input())
    date_to = forms.DateField(required=False, label="To", widget=_date_input())
    location = _ListedModelChoiceField(
        queryset=Location.objects.all(), required=False, empty_label="All stores", label="Store"
    )
    form = _ListedModelChoiceField(
        queryset=Form.objects.all(), required=False, empty_label="All forms", label="Form"
    )
    consent = forms.ChoiceField(choices=CONSENT_CHOICES, required=False, label="Consent")

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
            zone=filters_zone(location=location),
        )


class DateJumpForm(forms.Form):
    """ "Go to date": the page of sign-ups received on that day and just before it."""

    go = forms.DateField(required=False, label="Go to date", widget=_date_input())
