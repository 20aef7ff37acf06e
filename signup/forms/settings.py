"""The settings page: how long sign-ups are kept, and a shopper's export or erasure."""

from django import forms
from django.utils.translation import gettext_lazy as _


class RetentionForm(forms.Form):
    retention_days = forms.IntegerField(
        label=_("Keep sign-ups for (days)"),
        help_text=_("Older sign-ups are deleted every night. 30 to 3650 days."),
    )


class ShopperEmailForm(forms.Form):
    email = forms.EmailField(label=_("Shopper's email address"))
