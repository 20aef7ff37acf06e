"""Signing in: the password (throttled by django-axes, see accounts.throttling), then, for
whoever turned it on, a code from their authenticator app or a backup code.

Between the two steps the session holds only who passed the password and when; the person is
signed in (``login``) after the code, so a stolen password alone opens nothing.
"""

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, SetPasswordForm
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from .. import selectors, services, throttling
from ..forms import CodeForm, PasswordResetForm
from ..models import User

#: The session key of a sign-in waiting for its code: user id, backend, where to go, when.
PENDING = "accounts.signin_pending"


class SignInView(auth_views.LoginView):
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if isinstance(user, User) and selectors.two_factor_enabled(user):
            self.request.session[PENDING] = {
                "user": user.pk,
                "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[-1]),
                "next": self.get_success_url(),
                "at": time.time(),
            }
            return redirect("login-code")
        return super().form_valid(form)


def _pending(request: HttpRequest) -> tuple[User, dict[str, Any]] | None:
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("at", 0)) > settings.TWO_FACTOR_PENDING.total_seconds():
        return None
    user = User.objects.filter(pk=int(pending.get("user", 0)), is_active=True).first()
    return None if user is None else (user, pending)


@never_cache
@require_http_methods(["GET", "POST"])
def signin_code(request: HttpRequest) -> HttpResponseBase:
    """The second step: the app's code, or one backup code."""
    found = _pending(request)
    if found is None:
        request.session.pop(PENDING, None)
        messages.info(request, _("Sign in again: the code step waits 10 minutes at most."))
        return redirect("login")
    user, pending = found
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.two_factor_verify(user=user, code=form.cleaned_data["code"]):
            del request.session[PENDING]
            login(request, user, backend=pending["backend"])
            return redirect(pending["next"])
        form.add_error(
            "code",
            _(
                "That code does not match. Type the code your app shows now, or a backup code. "
                "After several wrong codes, each new try must wait a little longer."
            ),
        )
    return render(
        request,
        "accounts/signin_code.html",
        {"form": form, "email": user.email},
        status=400 if form.errors else 200,
    )


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's, and a new password proven by email also lifts a sign-in lockout."""

    def form_valid(self, form: "SetPasswordForm[User]") -> HttpResponse:
        response = super().form_valid(form)
        throttling.account_unlock(form.user.email)
        return response
