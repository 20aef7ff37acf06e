"""Numbers as people read them in the portal: "4,001", not "4001" (the active language's
grouping). Applied where a figure is shown, never to values in addresses or form inputs."""

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def grouped(value: object) -> str:
    """An integer with the thousands separator of the active language; other values as given."""
    if isinstance(value, bool) or not isinstance(value, int):
        return "" if value is None else str(value)
    return number_format(value, force_grouping=True)
