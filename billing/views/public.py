"""The public host: what the product is and costs, the self-serve sign-up, finding one's shop."""

import logging
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods
from stripe import InvalidRequestError, StripeError

from customerinfo.core.errors import ServiceError

from .. import selectors, services
from ..forms import ShopFinderForm, TrialSignupForm
from ..models import SIGNUPS, TABLETS

logger = logging.getLogger(__name__)


def _scheme(request: HttpRequest) -> str:
    return "https" if request.is_secure() else "http"


def shop_url(request: HttpRequest, slug: str, path: str = "/") -> str:
    """A page of a shop's own host, on the port this request came in on."""
    host = request.get_host()
    port = f":{host.rsplit(':', 1)[1]}" if ":" in host else ""
    return f"{_scheme(request)}://{slug}.{settings.BASE_DOMAIN}{port}{path}"


#: Said when Stripe does not answer (down, unreachable, refusing): nothing was charged, and the
#: same form (same nonce) can be sent again.
STRIPE_UNREACHABLE = gettext_lazy(
    "We could not reach our payment provider. Nothing was charged; please try again in a minute."
)
#: Said while the catalog has not been made (a deploy that has not run billing_sync_catalog).
SIGNUP_CLOSED = gettext_lazy(
    "Sign-up is not open right now; prices are being updated. Please try again soon."
)


def _pricing() -> dict[str, object]:
    catalog = selectors.catalog()
    tablets, signups = catalog.get(TABLETS), catalog.get(SIGNUPS)
    if tablets is None or signups is None:
        return {}
    included = signups.tiers[0]["up_to"] if signups.tiers else 0
    above = Decimal(signups.tiers[-1]["unit_amount_decimal"]) if signups.tiers else Decimal(0)
    return {
        "currency": tablets.currency,
        "tablet": Decimal(tablets.unit_amount or 0) / 100,
        "included": included,
        # Shown with as many decimals as it has ("0.02", "0.005"): billing.money.
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
    status = 400 if request.method == "POST" else 200
    if request.method == "POST" and form.is_valid():
        if not pricing:
            # Checked before the service: a sign-up that cannot reach Checkout must not hold
            # the address for a day.
            form.add_error(None, SIGNUP_CLOSED)
            status = 503
        else:
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
                    cancel_url=request.build_absolute_uri(reverse("billing-start"))
                    + "?cancelled=1",
                )
            except ServiceError as error:
                for field, errors in error.fields.items():
                    for item in errors:
                        form.add_error(field if field in form.fields else None, item["message"])
                if not error.fields:
                    form.add_error(None, error.message)
                status = error.status_code if error.status_code >= 500 else 400
            except StripeError:
                logger.warning("checkout not opened: stripe failed", exc_info=True)
                form.add_error(None, STRIPE_UNREACHABLE)
                status = 503
            else:
                return redirect(checkout)
    if request.GET.get("cancelled"):
        messages.info(
            request, _("Checkout was cancelled; nothing was charged. Try again any time.")
        )
    return render(
        request,
        "billing/start.html",
        {
            "form": form,
            "pricing": pricing,
            "closed": SIGNUP_CLOSED,
            "base_domain": settings.BASE_DOMAIN,
        },
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
        return render(
            request,
            "billing/start_waiting.html",
            {"message": error.message},
            status=error.status_code,
        )
    except InvalidRequestError:
        tenant = None  # a session id Stripe never made (a mistyped or forged link)
    except StripeError:
        logger.warning("checkout return: stripe failed", exc_info=True)
        return render(
            request,
            "billing/start_waiting.html",
            {"message": _("We could not reach our payment provider to confirm your Checkout.")},
            status=503,
        )
    except Exception:
        # The retailer has paid: whatever failed while making the shop (provisioning, the
        # database), the webhook's task makes it again with retries. A reload is the answer
        # here, never an error page.
        logger.exception("checkout return: the shop was not made yet")
        return render(
            request,
            "billing/start_waiting.html",
            {"message": _("Your Checkout is complete; your shop is still being set up.")},
            status=503,
        )
    if tenant is None:
        return render(
            request,
            "billing/start_waiting.html",
            {"message": _("We could not find a finished Checkout for this link.")},
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
        form.add_error("slug", _("No shop has this address. Check the spelling, or start a trial."))
    return render(
        request,
        "billing/find_shop.html",
        {"form": form, "purpose": purpose, "base_domain": settings.BASE_DOMAIN},
        status=400 if request.method == "POST" else 200,
    )
