"""Reads for the retailer's look: the logo the portal's header shows, an uploaded logo's file."""

from uuid import UUID

from ..models import Form, Logo


def brand_logo_url() -> str:
    """The logo of the brand form as shoppers see it (its published version, else its draft)."""
    form = Form.objects.filter(is_default=True).select_related("current_version").first()
    if form is None:
        return ""
    definition = form.current_version.definition if form.current_version else form.draft
    branding = definition.get("branding") if isinstance(definition, dict) else None
    url = branding.get("logo_url", "") if isinstance(branding, dict) else ""
    return url if isinstance(url, str) and url.startswith(("https://", "/")) else ""


def logo_for(*, pk: UUID, extension: str) -> Logo | None:
    """The upload served as ``/logos/<pk>.<extension>``, looked for in this retailer's schema
    only: another retailer's host finds nothing under the same address."""
    logo = Logo.objects.filter(pk=pk).first()
    if logo is None or not logo.file_name.endswith(f"/{pk}.{extension}"):
        return None
    return logo
