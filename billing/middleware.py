"""A suspended retailer's portal is read-only, but for what gets it paid.

Tablets are untouched (the kiosk API and shell are let through): a shop that forgot to pay
still captures every shopper. Reading the portal stays possible; changing it waits for payment,
with one clear way to pay on every refused page.

Access is read from the database, not from the tenant routing remembered for the host (up to
30 s old, per process): a suspension or a restored account applies to the very next request.
It is read at most once per request and only when something asks: a change on a path a
suspended shop may not change, or a page that shows the banner. The kiosk API, the busiest path,
never asks, so it costs it nothing.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import SimpleLazyObject

from tenants.models import Tenant, TenantAccess

#: What a suspended shop may still change: paying, signing in and out, its password, tablets,
#: the language it reads the portal in.
OPEN_WHEN_SUSPENDED = (
    "/billing/",
    "/language/",
    "/welcome/",
    "/login/",
    "/logout/",
    "/password/",
    "/api/kiosk/",
    "/kiosk/",
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def tenant_access(request: HttpRequest) -> str:
    """The access of the request's retailer as the database has it now (once per request);
    full on the public host."""
    known = request.__dict__.get("billing_access")
    if isinstance(known, str):
        return known
    tenant_id = getattr(getattr(request, "tenant", None), "pk", None)
    access = TenantAccess.FULL.value
    if tenant_id is not None:
        # The tenant table is in public, which every tenant's search_path includes.
        found = list(Tenant.objects.filter(pk=tenant_id).values_list("access", flat=True))
        access = found[0] if found else access
    request.__dict__["billing_access"] = access
    return access


class BillingAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method not in SAFE_METHODS
            and not request.path_info.startswith(OPEN_WHEN_SUSPENDED)
            and tenant_access(request) == TenantAccess.SUSPENDED
        ):
            response = render(request, "billing/suspended.html", status=403)
            if request.headers.get("HX-Request") == "true":
                # htmx swaps no 4xx answer: the button would seem to do nothing. Reloading shows
                # the page with the suspension banner and its way to pay.
                response["HX-Refresh"] = "true"
            return response
        return self.get_response(request)


def billing_banner(request: HttpRequest) -> dict[str, object]:
    """Template context: the retailer's access, for the banner in base.html and the billing
    page; read only if the template looks at it."""
    return {"billing_access": SimpleLazyObject(lambda: tenant_access(request))}
