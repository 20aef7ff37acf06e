"""The logo upload on a form's "Look and behaviour" section."""

from django import forms
from django.utils.translation import gettext_lazy as _


class LogoForm(forms.Form):
    logo = forms.FileField(
        label=_("Upload a logo"),
        help_text=_("PNG, JPEG or WebP, at most 512 KB. It takes the place of the address above."),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
