"""What the portal's navigation shows on every page, CRM pages included (base.html)."""

from django import template
from django.template import Context

from customerinfo.core.accounts.models import User

from .. import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def attention_count(context: Context) -> int:
    """Entries of "Needs attention" in the stores the member sees: one COUNT, read afresh on
    each page (nothing cached)."""
    user = getattr(context.get("request"), "user", None)
    if not isinstance(user, User):
        return 0
    return selectors.attention_count(scope=selectors.store_scope(user))
