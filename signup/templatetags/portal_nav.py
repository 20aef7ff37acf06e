"""What the portal's navigation shows on every page, CRM pages included (base.html)."""

from django import template

from .. import selectors

register = template.Library()


@register.simple_tag
def attention_count() -> int:
    """Entries of "Needs attention": one COUNT, read afresh on each page (nothing cached)."""
    return selectors.attention_count()
