"""Forms of the team page, invitations and two-step sign-in. They check what a person typed;
the rules (valid role, strong password, right code) are the services'."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.utils.translation import gettext_lazy as _

from customerinfo.core.errors import FieldErrors
from customerinfo.core.i18n import in_language_of

from .models import Role


def service_errors_to_form(form: forms.Form, fields: FieldErrors, message: str) -> None:
    """Puts a ServiceError's field errors next to the matching inputs, the rest on top."""
    for name, errors in fields.items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error["message"])
    if not fields:
        form.add_error(None, message)


class MemberInviteForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"), widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    full_name = forms.CharField(max_length=200, required=False, label=_("Name"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class ChoosePasswordForm(forms.Form):
    """An invitee's first password, typed twice."""

    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters; not a common password, not only digits."),
    )
    password_again = forms.CharField(
        label=_("The same again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, str]:
        data: dict[str, str] = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return data


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class LanguageForm(forms.Form):
    """The header's language chooser; ``next`` is the page to go back to."""

    language = forms.ChoiceField(choices=settings.LANGUAGES)
    next = forms.CharField(required=False, max_length=2000)


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's, with the email in the language of the person it goes to."""

    # Django's signature, called positionally by PasswordResetForm.save.
    def send_mail(  # noqa: PLR0917
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        with in_language_of(context.get("user")):
            super().send_mail(
                subject_template_name,
                email_template_name,
                context,
                from_email,
                to_email,
                html_email_template_name,
            )
