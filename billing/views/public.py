"""The public host: what the product is and costs, the self-serve sign-up, finding one's shop."""

from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from customerinfo.core.errors import ServiceError

from .. import selectors, services
from ..forms import ShopFinderForm, TrialSignupForm
from ..services.catalog import SIGNUPS, TABLETS


def _scheme(request: HttpRequest) -> str:
    return "https" if request.is_secure() else "http"


def shop_url(request: HttpRequest, slug: str, path: str = "/") -> str:
    """A page of a shop's own host, on the port this request came in on."""
    host = request.get_host()
    port = f":{host.rsplit(':', 1)[1]}" if ":" in host else ""
    return f"{_scheme(request)}://{slug}.{settings.BASE_DOMAIN}{port}{path}"


def _pricing() -> dict[str, object]:
    catalog = selectors.catalog()
    tablets, signups = catalog.get(TABLETS), catalog.get(SIGNUPS)
    if tablets is None or signups is None:
        return {}
    included = signups.tiers[0]["up_to"] if signups.tiers else 0
    above = Decimal(signups.tiers[-1]["unit_amount_decimal"]) if signups.tiers else Decimal(0)
    return {
        "currency": tablets.currency.upper(),
        "tablet": Decimal(tablets.unit_amount or 0) / 100,
        "included": included,
        "per_signup": above / 100,
        "trial_days": settings.BILLING_TRIAL_DAYS,
    }


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "billing/landing.html",
        {"pricing": _pricing(), "base_domain": settings.BASE_DOMAIN},
    )


@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponseBase:
    """The trial sign-up form; a valid one goes on to Stripe Checkout."""
    form = TrialSignupForm(request.POST or None)
    pricing = _pricing()
    if request.method == "POST" and form.is_valid() and pricing:
        data = form.cleaned_data
        done = request.build_absolute_uri(reverse("billing-start-done"))
        try:
            checkout = services.trial_signup_start(
                nonce=data["nonce"],
                shop_name=data["shop_name"],
                slug=data["slug"],
                owner_email=data["owner_email"],
                password=data["password"],
                success_url=f"{done}?session_id={{CHECKOUT_SESSION_ID}}",
                cancel_url=request.build_absolute_uri(reverse("billing-start")) + "?cancelled=1",
            )
        except ServiceError as error:
            for field, errors in error.fields.items():
                for item in errors:
                    form.add_error(field if field in form.fields else None, item["message"])
            if not error.fields:
                form.add_error(None, error.message)
        else:
            return redirect(checkout)
    status = 400 if request.method == "POST" else 200
    if request.GET.get("cancelled"):
        messages.info(request, "Checkout was cancelled; nothing was charged. Try again any time.")
    return render(
        request,
        "billing/start.html",
        {"form": form, "pricing": pricing, "base_domain": settings.BASE_DOMAIN},
        status=status,
    )


@require_GET
def slug_check(request: HttpRequest) -> HttpResponse:
    """The live answer under the address field, as the retailer types (HTMX)."""
    slug = request.GET.get("slug", "")
    try:
        clean = services.slug_available(slug=slug)
    except ServiceError as error:
        return render(request, "billing/_slug.html", {"ok": False, "message": error.message})
    return render(
        request,
        "billing/_slug.html",
        {"ok": True, "address": f"{clean}.{settings.BASE_DOMAIN}"},
    )


@require_GET
def start_done(request: HttpRequest) -> HttpResponseBase:
    """Back from Checkout: the shop is made (if the webhook has not made it already) and the
    owner goes to it, signed in."""
    try:
        tenant = services.trial_signup_complete(session_id=request.GET.get("session_id", ""))
    except ServiceError as error:
        return render(request, "billing/start_waiting.html", {"message": error.message}, status=400)
    if tenant is None:
        return render(
            request,
            "billing/start_waiting.html",
            {"message": "We could not find a finished Checkout for this link."},
            status=404,
        )
    token = services.welcome_token(tenant=tenant)
    welcome = reverse("billing-welcome", urlconf=settings.ROOT_URLCONF, args=[token])
    return redirect(shop_url(request, tenant.slug, welcome))


@require_http_methods(["GET", "POST"])
def find_shop(request: HttpRequest, purpose: str) -> HttpResponseBase:
    """ "Sign in" and "Forgot password" on the public host: which shop? Then there."""
    form = ShopFinderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        slug = form.cleaned_data["slug"].lower()
        if selectors.shop_exists(slug=slug):
            path = "/login/" if purpose == "login" else "/password/reset/"
            return redirect(shop_url(request, slug, path))
        form.add_error("slug", "No shop has this address. Check the spelling, or start a trial.")
    return render(
        request,
        "billing/find_shop.html",
        {"form": form, "purpose": purpose, "base_domain": settings.BASE_DOMAIN},
        status=400 if request.method == "POST" else 200,
    )
