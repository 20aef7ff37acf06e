"""The logo upload on a form's "Look and behaviour" section."""

from django import forms


class LogoForm(forms.Form):
    logo = forms.FileField(
        label="Upload a logo",
        help_text="PNG, JPEG or WebP, at most 512 KB. It takes the place of the address above.",
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
