"""A sign-up form's own settings: its name, and whether it is the brand form."""

from django import forms


class FormCreateForm(forms.Form):
    name = forms.CharField(max_length=120)
    is_default = forms.BooleanField(
        required=False,
        label="Brand form",
        help_text="Shown by every store that does not choose another form.",
    )


class FormSettingsForm(FormCreateForm):
    pass
