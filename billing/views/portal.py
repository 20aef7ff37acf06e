"""The retailer's side of billing: its first sign-in, and the owners' billing page."""

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from customerinfo.core.accounts.models import User
from customerinfo.core.errors import ServiceError
from customerinfo.core.portal import OWNERS, PortalRequest, portal_page, role_required
from customerinfo.core.tenancy import current_tenant_id
from tenants.models import Tenant

from .. import selectors, services


@require_GET
def welcome(request: HttpRequest, token: str) -> HttpResponseBase:
    """The one-time link from the end of the sign-up: signs the new owner in on their shop."""
    tenant = Tenant.objects.get(pk=current_tenant_id())
    try:
        email = services.welcome_use(token=token, tenant=tenant)
    except ServiceError as error:
        return render(
            request, "billing/welcome_invalid.html", {"message": error.message}, status=400
        )
    user = User.objects.get(email=email)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("portal-home")


@role_required(OWNERS, doing="see billing")
@require_GET
def billing_page(request: PortalRequest) -> HttpResponse:
    account = selectors.account_of_tenant(tenant_id=request.tenant.pk)
    context: dict[str, object] = {"account": account}
    if account is not None:
        context.update(selectors.billing_summary(account=account, now=timezone.now()))
        context["preview"] = services.invoice_preview(account=account)
    return portal_page(request, "billing/billing.html", "billing", context)


@role_required(OWNERS, doing="manage billing")
@require_POST
def customer_portal(request: PortalRequest) -> HttpResponseBase:
    """Stripe's Customer Portal: cards, invoices, cancellation."""
    account = selectors.account_of_tenant(tenant_id=request.tenant.pk)
    if account is None:
        return redirect("billing-page")
    url = services.customer_portal_url(
        account=account, return_url=request.build_absolute_uri(reverse("billing-page"))
    )
    return redirect(url)
