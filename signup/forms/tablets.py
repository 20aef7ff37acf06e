"""Pairing a tablet to a store."""

from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import Location


class PairForm(forms.Form):
    location = forms.ModelChoiceField(
        queryset=Location.objects.filter(is_active=True), label=_("Store")
    )
    device_name = forms.CharField(
        max_length=120, label=_("Tablet name"), help_text=_("To tell tablets apart, e.g. Till 2.")
    )
