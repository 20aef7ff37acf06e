"""Two-step sign-in, for owners and managers: set up with an app, backup codes, turn off."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from customerinfo.core.errors import ServiceError
from customerinfo.core.portal import MANAGERS, PortalRequest, portal_page, role_required

from .. import selectors, services
from ..forms import CodeForm, PasswordConfirmForm, service_errors_to_form

TEMPLATE = "accounts/two_factor.html"


def _page(request: PortalRequest, status: int = 200, **context: object) -> HttpResponse:
    user = request.user
    enabled = selectors.two_factor_enabled(user)
    base: dict[str, object] = {
        "enabled": enabled,
        "codes_left": selectors.backup_codes_left(user) if enabled else 0,
        "password_form": PasswordConfirmForm(),
    }
    return portal_page(request, TEMPLATE, "", {**base, **context}, status=status)


def _setup_context(request: PortalRequest, form: CodeForm) -> dict[str, object]:
    device = services.two_factor_setup_device(user=request.user)
    return {
        "setting_up": True,
        "qr_svg": services.totp_qr_svg(device),
        "secret": services.totp_secret(device),
        "code_form": form,
    }


@role_required(MANAGERS, doing=gettext_lazy("set up two-step sign-in"))
@never_cache
@sensitive_post_parameters("password", "code")
@require_http_methods(["GET", "POST"])
def two_factor_page(request: PortalRequest) -> HttpResponse:
    action = request.POST.get("action", "") if request.method == "POST" else ""
    user = request.user
    if action in {"setup", "confirm"} and not selectors.two_factor_enabled(user):
        form = CodeForm(request.POST if action == "confirm" else None)
        if action == "confirm" and form.is_valid():
            try:
                codes = services.two_factor_confirm(user=user, code=form.cleaned_data["code"])
            except ServiceError as error:
                service_errors_to_form(form, error.fields, error.message)
            else:
                # Shown once, now: only their use is stored from here on.
                return _page(request, new_codes=codes)
        return _page(request, status=400 if form.errors else 200, **_setup_context(request, form))
    if action in {"disable", "renew"}:
        password_form = PasswordConfirmForm(request.POST)
        if password_form.is_valid():
            password = password_form.cleaned_data["password"]
            try:
                if action == "disable":
                    services.two_factor_disable(user=user, password=password)
                    messages.success(request, _("Two-step sign-in is off."))
                    return redirect("two-factor")
                codes = services.backup_codes_renew(user=user, password=password)
            except ServiceError as error:
                service_errors_to_form(password_form, error.fields, error.message)
            else:
                return _page(request, new_codes=codes)
        return _page(request, status=400, password_form=password_form, failed=action)
    return _page(request)
