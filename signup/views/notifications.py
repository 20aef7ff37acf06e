"""The Notifications page of the portal's settings: each member's alerts, digest and scheduled
export. Choices are the member's own, stored in this retailer's schema."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from customerinfo.core.accounts.models import Role
from customerinfo.core.portal import MANAGERS, PortalRequest, portal_page, role_required

from ..forms.notifications import NotificationsForm
from ..selectors import notifications as selectors
from ..services import notifications as services


@role_required(MANAGERS, doing="choose notifications")
@require_http_methods(["GET", "POST"])
def notifications_page(request: PortalRequest) -> HttpResponse:
    preference = selectors.preference_for(request.user)
    owner = request.user.role == Role.OWNER
    if request.method == "POST":
        form = NotificationsForm(request.POST, owner=owner)
        if form.is_valid():
            data = form.cleaned_data
            services.preferences_save(
                user=request.user,
                tablet_offline=data["tablet_offline"],
                destination_paused=data.get("destination_paused", preference.destination_paused),
                weekly_digest=data["weekly_digest"],
                export_schedule=data["export_schedule"] or "",
                export_filters=form.export_filters(),
                portal_origin=f"{request.scheme}://{request.get_host()}",
            )
            messages.success(request, "Your notifications are saved.")
            return redirect("portal-notifications")
    else:
        form = NotificationsForm(
            initial=NotificationsForm.initial_of(preference, request.GET.dict()), owner=owner
        )
    return portal_page(
        request,
        "signup/portal/notifications.html",
        "notifications",
        {
            "form": form,
            "owner": owner,
            "email": request.user.email,
            "link_hours": f"{settings.SIGNUP_EXPORT_LINK_HOURS} hours",
        },
    )
