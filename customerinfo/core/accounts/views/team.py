"""The team page: owners invite by email, change roles, deactivate, unlock, see who uses
two-step sign-in. Nobody types a teammate's password: invitees choose their own."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST

from customerinfo.core.errors import ServiceError
from customerinfo.core.portal import OWNERS, PortalRequest, portal_page, role_required

from .. import selectors, services, throttling
from ..forms import MemberInviteForm, MemberRoleForm, service_errors_to_form
from ..models import Role, User


def _site_url(request: PortalRequest) -> str:
    """The shop's own address as the owner reached it, for the links in emails."""
    return f"{request.scheme}://{request.get_host()}"


@role_required(OWNERS, doing=gettext_lazy("manage the team"))
@require_http_methods(["GET", "POST"])
def team_list(request: PortalRequest) -> HttpResponse:
    invite = MemberInviteForm(request.POST or None, initial={"role": Role.STAFF})
    if request.method == "POST" and invite.is_valid():
        data = invite.cleaned_data
        try:
            member = services.member_invite(
                actor=request.user,
                email=data["email"],
                full_name=data["full_name"],
                role=data["role"],
                site_url=_site_url(request),
            )
        except ServiceError as error:
            if error.code != "mail_failed":
                service_errors_to_form(invite, error.fields, error.message)
            else:
                messages.error(request, error.message)
                return redirect("portal-team")
        else:
            messages.success(
                request,
                ngettext(
                    "Invitation sent to %(email)s. The link works once, for %(days)d day.",
                    "Invitation sent to %(email)s. The link works once, for %(days)d days.",
                    settings.INVITATION_TIMEOUT.days,
                )
                % {"email": member.email, "days": settings.INVITATION_TIMEOUT.days},
            )
            return redirect("portal-team")
    return portal_page(
        request,
        "accounts/team.html",
        "team",
        {
            "members": selectors.members_list(),
            "form": invite,
            "roles": Role.choices,
            "two_factor": selectors.two_factor_members(),
            "locked": throttling.locked_emails(),
            "invitation_days": settings.INVITATION_TIMEOUT.days,
        },
        status=400 if invite.errors else 200,
    )


@role_required(OWNERS, doing=gettext_lazy("manage the team"))
@require_POST
def member_update(request: PortalRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(User, pk=pk)
    action = request.POST.get("action", "role")
    try:
        if action == "deactivate":
            services.member_deactivate(actor=request.user, member=member)
            messages.success(
                request, _("%(email)s is deactivated and signed out.") % {"email": member.email}
            )
        elif action == "activate":
            services.member_activate(actor=request.user, member=member)
            messages.success(request, _("%(email)s can sign in again.") % {"email": member.email})
        elif action == "resend":
            services.invitation_resend(
                actor=request.user, member=member, site_url=_site_url(request)
            )
            messages.success(
                request, _("A new invitation is on its way to %(email)s.") % {"email": member.email}
            )
        elif action == "revoke":
            services.invitation_revoke(actor=request.user, member=member)
            messages.success(
                request, _("The invitation of %(email)s is withdrawn.") % {"email": member.email}
            )
        elif action == "unlock":
            services.member_unlock(actor=request.user, member=member)
            messages.success(
                request, _("%(email)s can try to sign in again now.") % {"email": member.email}
            )
        else:
            role = MemberRoleForm(request.POST)
            if not role.is_valid():
                raise ServiceError("validation_failed", _("Choose owner, manager or staff."))
            services.member_role_change(
                actor=request.user, member=member, role=role.cleaned_data["role"]
            )
            messages.success(
                request,
                _("%(email)s is now %(role)s.")
                % {"email": member.email, "role": member.get_role_display()},
            )
    except ServiceError as error:
        messages.error(request, error.message)
    return redirect("portal-team")
