"""Reads of tenants, for routing and for the operator."""

from .models import Domain, Tenant


def tenant_for_host(*, host: str) -> Tenant | None:
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    return domain.tenant if domain else None
