"""Routes each request by host: the public site, a tenant's site, or a clear 404 page.

Written in place of django-tenants' TenantMainMiddleware because that one needs a tenant row for
the public schema, raises a bare 404 for unknown hosts, and knows nothing of tenants still being
provisioned.
"""

from collections.abc import Callable
from typing import cast

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import set_urlconf

from customerinfo.core.db import connection_recycle_if_spread
from customerinfo.core.tenancy import (
    TenantRequest,
    current_tenant,
    tenant_connection,
    use_public_schema,
)

from .models import Tenant
from .selectors import tenant_for_host


def public_hosts() -> set[str]:
    return {settings.BASE_DOMAIN, f"www.{settings.BASE_DOMAIN}"}


def request_host(request: HttpRequest) -> str:
    """The request's host name, without port, lower case; raises DisallowedHost."""
    return request.get_host().rsplit(":", 1)[0].lower()


def request_tenant_enter(request: HttpRequest, tenant: Tenant) -> None:
    """Points the request, its URLs and the connection at ``tenant``."""
    cast(TenantRequest, request).tenant = tenant
    current = current_tenant()
    if current is None or getattr(current, "pk", None) != tenant.pk:
        # Costs nothing by itself: the SET search_path is sent before the next ORM query, if
        # there is one. The kiosk's sign-up names its schema and sends none (core.db).
        tenant_connection().set_tenant(tenant)
    request.urlconf = settings.ROOT_URLCONF
    set_urlconf(None)


def request_tenant_leave(tenant: Tenant) -> None:
    """After the answer: a connection that has served too many shops' schemas is renewed
    between requests, since a PostgreSQL backend never gives back the memory each schema's
    tables cost it."""
    connection_recycle_if_spread(tenant.schema_name)


class TenantRoutingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            host = request_host(request)
        except DisallowedHost:
            return render(request, "tenants/unknown_host.html", {"host": ""}, status=400)
        if host in public_hosts():
            use_public_schema()
            # django-tenants' own templates read request.tenant.schema_name on every host.
            cast(TenantRequest, request).tenant = current_tenant()
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            set_urlconf(request.urlconf)
            return self.get_response(request)
        tenant = tenant_for_host(host=host)
        if tenant is None:
            use_public_schema()
            context = {"host": host, "base_domain": settings.BASE_DOMAIN}
            return render(request, "tenants/unknown_host.html", context, status=404)
        if not tenant.ready:
            response = render(request, "tenants/not_ready.html", {"tenant": tenant}, status=503)
            response["Retry-After"] = "5"
            return response
        request_tenant_enter(request, tenant)
        response = self.get_response(request)
        request_tenant_leave(tenant)
        return response
