"""The retailer's side of billing: its first sign-in, and the owners' billing page."""

import logging
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from stripe import StripeError

from customerinfo.core.accounts.models import User
from customerinfo.core.errors import ServiceError
from customerinfo.core.portal import OWNERS, PortalRequest, portal_page, role_required
from customerinfo.core.tenancy import current_tenant_id
from tenants.models import Tenant

from .. import selectors, services
from ..models import InvoiceRecord

#: Stripe's invoice statuses as a reader says them; an unknown one is shown as Stripe names it.
INVOICE_STATUS_WORDS = {
    "draft": gettext_lazy("Draft"),
    "open": gettext_lazy("Open"),
    "paid": gettext_lazy("Paid"),
    "uncollectible": gettext_lazy("Uncollectible"),
    "void": gettext_lazy("Void"),
}


def invoice_status_words(status: str) -> str:
    return str(INVOICE_STATUS_WORDS.get(status, status))


logger = logging.getLogger(__name__)


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
    requested = selectors.address_requested(tenant_id=tenant.pk)
    if requested:
        domain = settings.BASE_DOMAIN
        messages.warning(
            request,
            _(
                "The address %(requested)s was taken while you were at Checkout, so your shop "
                "is at %(address)s. Keep this address; we have emailed it to you."
            )
            % {"requested": f"{requested}.{domain}", "address": f"{tenant.slug}.{domain}"},
        )
    return redirect("portal-home")


@role_required(OWNERS, doing=gettext_lazy("see billing"))
@require_GET
def billing_page(request: PortalRequest) -> HttpResponse:
    account = selectors.account_of_tenant(tenant_id=request.tenant.pk)
    context: dict[str, object] = {"account": account}
    if account is not None:
        summary = selectors.billing_summary(account=account, now=timezone.now())
        context.update(summary)
        # In currency units: amounts are cents, and a template can only round them (widthratio).
        context["invoice_rows"] = [
            (invoice, Decimal(invoice.amount_due) / 100, invoice_status_words(invoice.status))
            for invoice in cast(list[InvoiceRecord], summary["invoices"])
        ]
        context["preview"] = services.invoice_preview(account=account)
    return portal_page(request, "billing/billing.html", "billing", context)


@role_required(OWNERS, doing=gettext_lazy("manage billing"))
@require_POST
def customer_portal(request: PortalRequest) -> HttpResponseBase:
    """Stripe's Customer Portal: cards, invoices, cancellation."""
    account = selectors.account_of_tenant(tenant_id=request.tenant.pk)
    if account is None:
        return redirect("billing-page")
    try:
        url = services.customer_portal_url(
            account=account, return_url=request.build_absolute_uri(reverse("billing-page"))
        )
    except StripeError:
        logger.warning("customer portal not opened: stripe failed", exc_info=True)
        messages.error(
            request,
            _(
                "We could not reach our payment provider to open the page for cards and "
                "invoices. Please try again in a minute."
            ),
        )
        return redirect("billing-page")
    return redirect(url)


@role_required(OWNERS, doing=gettext_lazy("manage billing"))
@require_POST
def resume(request: PortalRequest) -> HttpResponseBase:
    """A trial that ended without a card paused the shop: with a card on file, bill from now."""
    account = selectors.account_of_tenant(tenant_id=request.tenant.pk)
    if account is None:
        return redirect("billing-page")
    try:
        services.subscription_resume(account=account)
        account = services.account_sync(account=account)
    except StripeError as error:
        logger.warning("subscription not resumed", exc_info=True)
        message = getattr(error, "user_message", None) or _(
            "The subscription could not be resumed. Check that a card is on file "
            "(Manage cards, invoices and cancellation), then try again."
        )
        messages.error(request, message)
        return redirect("billing-page")
    messages.success(
        request,
        _("Your subscription is now: %(status)s.") % {"status": account.get_status_display()},
    )
    return redirect("billing-page")
