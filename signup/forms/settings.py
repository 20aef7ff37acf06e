"""The settings page: how long sign-ups are kept, and a shopper's export or erasure."""

from django import forms


class RetentionForm(forms.Form):
    retention_days = forms.IntegerField(
        label="Keep sign-ups for (days)",
        help_text="Older sign-ups are deleted every night. 30 to 3650 days.",
    )


class ShopperEmailForm(forms.Form):
    email = forms.EmailField(label="Shopper's email address")
