"""Filtering the list of sign-ups."""

from django import forms

from ..models import Location


class SubmissionFilterForm(forms.Form):
    email = forms.CharField(required=False, label="Email contains")
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    location = forms.ModelChoiceField(
        queryset=Location.objects.all(), required=False, empty_label="All stores", label="Store"
    )
