"""Forms of the team page, invitations and two-step sign-in. They check what a person typed;
the rules (valid role, strong password, right code) are the services'."""

from django import forms

from customerinfo.core.errors import FieldErrors

from .models import Role


def service_errors_to_form(form: forms.Form, fields: FieldErrors, message: str) -> None:
    """Puts a ServiceError's field errors next to the matching inputs, the rest on top."""
    for name, errors in fields.items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error["message"])
    if not fields:
        form.add_error(None, message)


class MemberInviteForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    full_name = forms.CharField(max_length=200, required=False, label="Name")
    role = forms.ChoiceField(choices=Role.choices)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ChoosePasswordForm(forms.Form):
    """An invitee's first password, typed twice."""

    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters; not a common password, not only digits.",
    )
    password_again = forms.CharField(
        label="The same again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, str]:
        data: dict[str, str] = super().clean() or {}
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", "The two passwords differ.")
        return data


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
