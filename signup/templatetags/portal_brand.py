"""The retailer's logo in the portal's header (base.html), falling back to its name."""

from typing import Any

from django import template

from ..selectors.branding import brand_logo_url

register = template.Library()


@register.simple_tag(takes_context=True)
def brand_logo(context: dict[str, Any]) -> str:
    """The brand form's logo address, or "" when there is none to show."""
    request = context.get("request")
    tenant = getattr(request, "tenant", None)
    # A shop still being set up has no tables yet; the public site has none at all.
    if tenant is None or getattr(tenant, "schema_name", "public") == "public":
        return ""
    if not getattr(tenant, "ready", False):
        return ""
    return brand_logo_url()
