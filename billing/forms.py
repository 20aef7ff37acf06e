"""The public forms: the trial sign-up, and finding one's shop."""

import re
import secrets
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

#: The first part of a shop's address (tenants.services.SLUG_PATTERN says which are allowed;
#: this only tells an address from something else before asking whether the shop exists).
SHOP_ADDRESS = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")


class TrialSignupForm(forms.Form):
    shop_name = forms.CharField(label=gettext_lazy("Shop name"), max_length=200)
    slug = forms.SlugField(
        label=gettext_lazy("Your shop's address"),
        max_length=40,
        help_text=gettext_lazy(
            "Lowercase letters, digits and hyphens. Your portal and tablets live there."
        ),
    )
    owner_email = forms.EmailField(label=gettext_lazy("Your email"), max_length=254)
    password = forms.CharField(
        label=gettext_lazy("Password"),
        min_length=10,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("At least 10 characters."),
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
    """Which shop? The page shows an address as ``your-shop.<BASE_DOMAIN>``, so people type
    that, or paste the link they were given: both are taken, as is the first part alone."""

    slug = forms.CharField(label=gettext_lazy("Your shop's address"), max_length=300)

    def clean_slug(self) -> str:
        value: str = self.cleaned_data["slug"].strip().lower()
        value = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value)  # a pasted link: its scheme,
        value = value.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0]  # path and port
        suffix = f".{settings.BASE_DOMAIN}"
        if value.endswith(suffix):
            value = value.removesuffix(suffix)
        if not SHOP_ADDRESS.fullmatch(value):
            raise forms.ValidationError(
                _("Type your shop's address, such as %(example)s, or just its first part.")
                % {"example": f"your-shop.{settings.BASE_DOMAIN}"}
            )
        return value
