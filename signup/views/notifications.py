"""The Notifications page of the portal's settings: each member's alerts, digest and scheduled
export. Choices are the member's own, stored in this retailer's schema."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_http_methods

from customerinfo.core.accounts.models import Role
from customerinfo.core.portal import EVERYONE, PortalRequest, portal_page, role_required

from ..forms.notifications import NotificationsForm
from ..selectors import notifications as selectors
from ..selectors.access import store_scope
from ..services import notifications as services


@role_required(EVERYONE, doing=gettext_lazy("choose notifications"))
@require_http_methods(["GET", "POST"])
def notifications_page(request: PortalRequest) -> HttpResponse:
    preference = selectors.preference_for(request.user)
    staff = request.user.role == Role.STAFF
    if request.method == "POST":
        form = NotificationsForm(request.POST, staff=staff)
        if form.is_valid():
            data = form.cleaned_data
            services.preferences_save(
                user=request.user,
                tablet_offline=data["tablet_offline"],
                destination_paused=data.get("destination_paused", False),
                weekly_digest=data["weekly_digest"],
                export_schedule=data.get("export_schedule") or "",
                export_filters=form.export_filters(),
                portal_origin=f"{request.scheme}://{request.get_host()}",
            )
            messages.success(request, gettext("Your notifications are saved."))
            return redirect("portal-notifications")
    else:
        form = NotificationsForm(
            initial=NotificationsForm.initial_of(preference, request.GET.dict()), staff=staff
        )
    scope = store_scope(request.user)
    return portal_page(
        request,
        "signup/portal/notifications.html",
        "notifications",
        {
            "form": form,
            "staff": staff,
            "limited_to": list(scope.stores()) if scope.limited else None,
            "email": request.user.email,
            "link_hours": settings.SIGNUP_EXPORT_LINK_HOURS,
        },
    )
