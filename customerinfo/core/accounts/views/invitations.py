"""The invitee's side: the link from the email, their first password, and in.

As with Django's password reset, the token leaves the address bar at once (it is kept in the
session and the page moves to a URL without it), so it cannot leak through the history or a
Referer header.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from customerinfo.core.errors import ServiceError

from .. import selectors, services
from ..forms import ChoosePasswordForm, service_errors_to_form

#: The path segment that stands for the token once it is in the session.
IN_SESSION = "choose-password"
SESSION_KEY = "accounts.invitation_token"


@never_cache
@sensitive_post_parameters("password", "password_again")
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, uidb64: str, token: str) -> HttpResponseBase:
    if token != IN_SESSION:
        request.session[SESSION_KEY] = token
        return redirect("invitation-accept", uidb64=uidb64, token=IN_SESSION)
    member = selectors.invitation_member(
        uidb64=uidb64, token=str(request.session.get(SESSION_KEY, ""))
    )
    if member is None:
        return render(request, "accounts/invitation_invalid.html", status=400)
    form = ChoosePasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_accept(member=member, password=form.cleaned_data["password"])
        except ServiceError as error:
            service_errors_to_form(form, error.fields, error.message)
        else:
            request.session.pop(SESSION_KEY, None)
            login(request, member, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request,
                _("Welcome to the team. You are signed in as %(email)s.") % {"email": member.email},
            )
            return redirect("portal-home")
    return render(
        request,
        "accounts/invitation_accept.html",
        {"form": form, "member": member},
        status=400 if form.errors else 200,
    )
