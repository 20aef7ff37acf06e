"""The public sign-up form."""

import secrets
from typing import Any

from django import forms


class TrialSignupForm(forms.Form):
    shop_name = forms.CharField(label="Shop name", max_length=200)
    slug = forms.SlugField(
        label="Your shop's address",
        max_length=40,
        help_text="Lowercase letters, digits and hyphens. Your portal and tablets live there.",
    )
    owner_email = forms.EmailField(label="Your email", max_length=254)
    password = forms.CharField(
        label="Password",
        min_length=10,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 10 characters.",
    )
    #: One per form shown: sending the same form twice is the same sign-up.
    nonce = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].widget.attrs.update(
            {"autocapitalize": "none", "spellcheck": "false", "autocomplete": "off"}
        )
        self.fields["owner_email"].widget.attrs.update({"autocomplete": "email"})
        self.fields["shop_name"].widget.attrs.update({"autocomplete": "organization"})
        if not self.is_bound:
            self.initial.setdefault("nonce", secrets.token_urlsafe(24))


class ShopFinderForm(forms.Form):
    slug = forms.SlugField(label="Your shop's address", max_length=40)
