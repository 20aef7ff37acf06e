"""A service's refusal, shown on the Django form that asked for it."""

from django import forms

from customerinfo.core.errors import FieldErrors


def service_errors_to_form(form: forms.Form, fields: FieldErrors, message: str) -> None:
    """Puts a ServiceError's field errors next to the matching inputs, the rest on top."""
    for name, errors in fields.items():
        for error in errors:
            form.add_error(name if name in form.fields else None, error["message"])
    if not fields:
        form.add_error(None, message)
