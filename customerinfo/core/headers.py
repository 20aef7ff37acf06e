"""Security headers on every answer: Content-Security-Policy and Permissions-Policy.

Both sit near the top of the middleware stack, so that answers made early (health probes, the
API's JSON errors, the host router's 404) carry them too, the kiosk API's included.

The policy itself is in settings (``CONTENT_SECURITY_POLICY``); django-csp writes it. Two
changes to django-csp's middleware:

- The header of an answer that asks for no change of the policy (no per-view override, no
  nonce) is built once and reused: building it costs tens of microseconds, which the kiosk's
  sign-up path should not pay on every request.
- Form targets (``form-action``) follow the settings of the moment: our own hosts and Stripe's.
- The operator's Django admin is the one place the policy is widened: its widgets write a few
  ``style`` attributes and it is not retailer- or shopper-facing.
"""

from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from csp.constants import HEADER, HEADER_REPORT_ONLY, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

#: Paths whose pages are Django's own admin (public host only).
ADMIN_PREFIX = "/admin/"

#: Features no page of ours uses; a script that slipped in cannot turn them on either.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "bluetooth",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)


def form_targets() -> tuple[str, ...]:
    """Where a form of ours may lead, redirects included (browsers check those too).

    Our own hosts: the public site sends a new retailer on to its shop's host, and shop hosts
    are served on whatever port the site is. Stripe: billing forms answer with a redirect to
    Checkout or to the customer portal (or to the fake Stripe of tests and ``make run``).
    """
    domain = settings.BASE_DOMAIN
    targets = [f"{domain}:*", f"*.{domain}:*", *STRIPE_PAGES]
    stripe_api = urlsplit(getattr(settings, "STRIPE_API_BASE", "") or "")
    if stripe_api.scheme and stripe_api.netloc:
        targets.append(f"{stripe_api.scheme}://{stripe_api.netloc}")
    return tuple(targets)


#: Stripe's hosted pages, reached by a redirect from a billing form.
STRIPE_PAGES = ("https://checkout.stripe.com", "https://billing.stripe.com")


@lru_cache(maxsize=8)
def _plain_policy(report_only: bool, targets: tuple[str, ...]) -> str:
    return build_policy(update={"form-action": list(targets)}, report_only=report_only)


@receiver(setting_changed)
def _forget_policy(*, setting: str, **_: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _plain_policy.cache_clear()


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        update = dict(parts.update or {})
        update["form-action"] = [*update.get("form-action", ()), *form_targets()]
        if request.path_info.startswith(ADMIN_PREFIX):
            update["style-src"] = [*update.get("style-src", ()), UNSAFE_INLINE]
        parts.update = update
        return parts

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        own = super().get_policy_parts(request, response)
        debug_page = settings.DEBUG and response.status_code in (404, 500)
        special = own != PolicyParts() or request.path_info.startswith(ADMIN_PREFIX)
        if special or debug_page or getattr(response, "_csp_exempt", False):
            return super().process_response(request, response)
        # The common case, with nothing to change per answer: django-csp's own rules, cached.
        if HEADER not in response:
            response[HEADER] = _plain_policy(False, form_targets())
        report_only = _plain_policy(True, form_targets())
        if report_only and HEADER_REPORT_ONLY not in response:
            response[HEADER_REPORT_ONLY] = report_only
        return response


class PermissionsPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response
