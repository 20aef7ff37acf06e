"""Reads for the stores pages: whether what a store's tablets would show is published."""

from django.utils.translation import gettext

from ..models import Form, Location


def brand_form() -> Form | None:
    return Form.objects.filter(is_default=True).first()


def location_form_warning(*, location: Location, brand: Form | None) -> str:
    """Why this store's tablets have no form to show, or "" when they have one."""
    if location.form_id is not None:
        form = location.form
        if form is not None and form.current_version_id is None:
            return gettext(
                "Its form “%(name)s” is not published: its tablets cannot take sign-ups."
            ) % {"name": form.name}
        return ""
    if brand is None:
        return gettext("It shows the brand form, and there is none: choose a form for it.")
    if brand.current_version_id is None:
        return gettext(
            "It shows the brand form “%(name)s”, which is not published: "
            "its tablets cannot take sign-ups."
        ) % {"name": brand.name}
    return ""
