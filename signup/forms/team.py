"""The team page: adding a member, changing a role."""

from django import forms

from customerinfo.core.accounts.models import Role


class MemberCreateForm(forms.Form):
    email = forms.EmailField()
    full_name = forms.CharField(max_length=200, required=False, label="Name")
    role = forms.ChoiceField(choices=Role.choices)
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        label="Initial password",
        help_text="At least 8 characters, not a common one. Give it to them in person.",
    )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
