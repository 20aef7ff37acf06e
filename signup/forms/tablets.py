"""Pairing a tablet to a store."""

from django import forms

from ..models import Location


class PairForm(forms.Form):
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(is_active=True), label="Store"
    )
    device_name = forms.CharField(
        max_length=120, label="Tablet name", help_text="To tell tablets apart, e.g. Till 2."
    )
