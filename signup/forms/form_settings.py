"""A sign-up form's own settings: its name, whether it is the brand form, and (when it is made)
the gallery template it starts from."""

from django import forms
from django.utils.translation import gettext_lazy as _

from ..form_templates import FORM_TEMPLATES


class FormSettingsForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    is_default = forms.BooleanField(
        required=False,
        label=_("Brand form"),
        help_text=_("Shown by every store that does not choose another form."),
    )


class FormCreateForm(FormSettingsForm):
    #: The page draws these choices as cards (form_create.html); a post without one gets the
    #: first, so a client that knows nothing of the gallery still makes a form.
    template = forms.ChoiceField(
        label=_("Start from"),
        choices=[(template.key, template.name) for template in FORM_TEMPLATES],
        required=False,
        widget=forms.RadioSelect,
    )

    def clean_template(self) -> str:
        chosen: str = self.cleaned_data.get("template") or FORM_TEMPLATES[0].key
        return chosen
