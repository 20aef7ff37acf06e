"""Reads of tenants, for routing and for the operator."""

import time
from threading import Lock

from customerinfo.core.tenancy import use_public_schema

from .models import Domain, Tenant

#: How long a process trusts its memory of which tenant a host name belongs to. Every request
#: needs this answer, and it changes only when a tenant is created or moved; a new tenant is
#: never remembered before it is ready, so it appears as soon as provisioning finishes.
HOST_CACHE_SECONDS = 30.0

_host_cache: dict[str, tuple[float, Tenant]] = {}
_host_cache_lock = Lock()


def tenant_for_host(*, host: str) -> Tenant | None:
    now = time.monotonic()
    cached = _host_cache.get(host)
    if cached is not None and cached[0] > now:
        return cached[1]
    # Domains live in public; the connection may still point at the last request's tenant.
    use_public_schema()
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    tenant = domain.tenant if domain else None
    if tenant is not None and tenant.ready:
        with _host_cache_lock:
            _host_cache[host] = (now + HOST_CACHE_SECONDS, tenant)
    return tenant


def host_cache_clear() -> None:
    with _host_cache_lock:
        _host_cache.clear()
