"""The portal's shell, shared by every app's pages: who may see a page, and how it is drawn.

Every view says which roles may use it with ``role_required``; a signed-in user with another
role gets a 403 page that says why, an anonymous one the sign-in page.
"""

from collections.abc import Callable
from datetime import timedelta
from functools import update_wrapper
from typing import Any, Concatenate, ParamSpec, TypeAlias, cast

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django_htmx.middleware import HtmxDetails
from django_tenants.models import TenantMixin

from .accounts.models import Role, User

P = ParamSpec("P")


class HtmxRequest(HttpRequest):
    """A request that went through django-htmx's middleware (every page but the kiosk API)."""

    htmx: HtmxDetails


class PortalRequest(HtmxRequest):
    """A request that passed ``role_required``: a signed-in member of this tenant's team."""

    user: User
    tenant: TenantMixin


PortalView: TypeAlias = Callable[Concatenate[PortalRequest, P], HttpResponseBase]
View: TypeAlias = Callable[Concatenate[HttpRequest, P], HttpResponseBase]

EVERYONE = frozenset(Role)
MANAGERS = frozenset({Role.OWNER, Role.MANAGER})
OWNERS = frozenset({Role.OWNER})

PAGE_SIZE = 50


def role_required(
    roles: frozenset[Role], *, doing: str | Promise
) -> Callable[[PortalView[P]], View[P]]:
    """Lets ``roles`` in; ``doing`` completes "Your role cannot ..." on the 403 page. Pass it
    through gettext_lazy: it is read when the page is drawn, in the reader's language."""

    def decorate(view: PortalView[P]) -> View[P]:
        def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
            user = request.user
            if not isinstance(user, User) or not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if user.role not in roles:
                allowed = sorted(str(Role(role).label) for role in roles)
                return render(
                    request,
                    "core/forbidden.html",
                    {"doing": doing, "allowed": allowed, "section": ""},
                    status=403,
                )
            return view(cast(PortalRequest, request), *args, **kwargs)

        update_wrapper(wrapper, view)
        return wrapper

    return decorate


def portal_page(
    request: HttpRequest,
    template: str,
    section: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    """``template`` drawn with ``section`` marked as the current one in the navigation."""
    return render(request, template, {"section": section, **(context or {})}, status=status)


def age(delta: timedelta) -> str:
    """A short, readable duration: "4 min", "2 h", "3 d"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 1:
        return _("under 1 min")
    if minutes < 60:
        return _("%(count)d min") % {"count": minutes}
    if minutes < 48 * 60:
        return _("%(count)d h") % {"count": minutes // 60}
    return _("%(count)d d") % {"count": minutes // (24 * 60)}
