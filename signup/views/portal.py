"""Portal pages of a retailer's host: settings, privacy requests, audit (the team page is in
customerinfo.core.accounts).

Plain server-rendered pages. Every view says which roles may use it with ``role_required`` (the
portal shell, ``customerinfo.core.portal``). The home page (the dashboard), forms and their
builder, stores, tablets, sign-ups and "Needs attention" have their own modules beside this one.
"""

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customerinfo.core.accounts.models import Role
from customerinfo.core.audit import audit_record, sha256
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditAction
from customerinfo.core.portal import (
    MANAGERS,
    PAGE_SIZE,
    PortalRequest,
    portal_page,
    role_required,
)

from .. import selectors, services
from ..forms import RetentionForm, ShopperEmailForm, service_errors_to_form

# --- settings and privacy ----------------------------------------------------------------------


@role_required(MANAGERS, doing=gettext_lazy("see settings"))
@require_http_methods(["GET", "POST"])
def settings_page(request: PortalRequest) -> HttpResponse:
    row = services.retailer_settings()
    retention = RetentionForm(request.POST or None, initial={"retention_days": row.retention_days})
    status = 200
    if request.method == "POST":
        if request.user.role != Role.OWNER:
            return render(
                request,
                "core/forbidden.html",
                {
                    "doing": gettext("change the retention period"),
                    "allowed": [Role.OWNER.label],
                    "section": "",
                },
                status=403,
            )
        if retention.is_valid():
            try:
                services.retention_update(
                    actor=request.user, days=retention.cleaned_data["retention_days"]
                )
            except ServiceError as error:
                service_errors_to_form(retention, error.fields, error.message)
            else:
                messages.success(request, gettext("Retention period saved."))
                return redirect("portal-settings")
        status = 400
    return portal_page(
        request,
        "signup/portal/settings.html",
        "settings",
        {
            "retention": retention,
            "settings_row": row,
            "can_edit_retention": request.user.role == Role.OWNER,
            "export_form": ShopperEmailForm(prefix="export"),
            "erase_form": ShopperEmailForm(prefix="erase"),
        },
        status=status,
    )


@role_required(MANAGERS, doing=gettext_lazy("export a shopper's data"))
@require_POST
def shopper_export(request: PortalRequest) -> HttpResponse:
    lookup = ShopperEmailForm(request.POST, prefix="export")
    if not lookup.is_valid():
        messages.error(request, gettext("Enter the shopper's email address to export their data."))
        return redirect("portal-settings")
    data = services.shopper_export(email=lookup.cleaned_data["email"])
    audit_record(
        actor=request.user,
        action=AuditAction.SHOPPER_EXPORT,
        target=services.retailer_settings(),
        new={
            "email_sha256": sha256(data["email"]),
            "submissions": len(data["submissions"]),
        },
    )
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json"
    )
    response["Content-Disposition"] = 'attachment; filename="shopper-export.json"'
    response["Cache-Control"] = "no-store"
    return response


@role_required(MANAGERS, doing=gettext_lazy("erase a shopper's data"))
@require_POST
def shopper_erase(request: PortalRequest) -> HttpResponse:
    """Two steps: the first POST shows what will go; the second, confirmed, erases it."""
    lookup = ShopperEmailForm(request.POST, prefix="erase")
    if not lookup.is_valid():
        messages.error(request, gettext("Enter the shopper's email address to erase their data."))
        return redirect("portal-settings")
    email = lookup.cleaned_data["email"]
    if request.POST.get("confirm") != "yes":
        count = selectors.submission_count_for_email(email=email)
        return portal_page(
            request,
            "signup/portal/erase_confirm.html",
            "settings",
            {"email": email, "count": count},
        )
    deleted = services.shopper_erase(actor=request.user, email=email)
    messages.success(
        request,
        ngettext(
            "Erased %(count)s sign-up of %(email)s and its consents.",
            "Erased %(count)s sign-ups of %(email)s and their consents.",
            deleted,
        )
        % {"count": deleted, "email": email},
    )
    return redirect("portal-settings")


# --- audit log ---------------------------------------------------------------------------------


def _json_cell(value: Any, indent: int | None = None) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=indent)


@role_required(MANAGERS, doing=gettext_lazy("read the audit log"))
@require_GET
def audit_log(request: PortalRequest) -> HttpResponse:
    page = Paginator(selectors.audit_entries(), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "entry": entry,
            "who": entry.actor.email if entry.actor else (entry.actor_label or gettext("System")),
            "old": _json_cell(entry.old),
            "new": _json_cell(entry.new),
            "old_full": _json_cell(entry.old, indent=2),
            "new_full": _json_cell(entry.new, indent=2),
        }
        for entry in page.object_list
    ]
    return portal_page(
        request, "signup/portal/audit_log.html", "audit", {"page": page, "rows": rows}
    )
