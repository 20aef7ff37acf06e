"""A suspended retailer's portal is read-only, but for what gets it paid.

Tablets are untouched (the kiosk API and shell are let through): a shop that forgot to pay
still captures every shopper. Reading the portal stays possible; changing it waits for payment,
with one clear way to pay on every refused page.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tenants.models import TenantAccess

#: What a suspended shop may still change: paying, signing in and out, its password, tablets.
OPEN_WHEN_SUSPENDED = (
    "/billing/",
    "/welcome/",
    "/login/",
    "/logout/",
    "/password/",
    "/api/kiosk/",
    "/kiosk/",
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class BillingAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        access = getattr(getattr(request, "tenant", None), "access", TenantAccess.FULL)
        if (
            access == TenantAccess.SUSPENDED
            and request.method not in SAFE_METHODS
            and not request.path_info.startswith(OPEN_WHEN_SUSPENDED)
        ):
            response = render(request, "billing/suspended.html", status=403)
            if request.headers.get("HX-Request") == "true":
                # htmx swaps no 4xx answer: the button would seem to do nothing. Reloading shows
                # the page with the suspension banner and its way to pay.
                response["HX-Refresh"] = "true"
            return response
        return self.get_response(request)


def billing_banner(request: HttpRequest) -> dict[str, str]:
    """Template context: the retailer's access, for the banner in base.html."""
    access = getattr(getattr(request, "tenant", None), "access", TenantAccess.FULL)
    return {"billing_access": str(access)}
