"""Portal pages of a retailer's host: forms, settings, audit (the team page is in
customerinfo.core.accounts).

Plain server-rendered pages. The form builder's live preview is the tablet's own code run in the
page (frontend/static/portal/form-preview.js), fed the unsaved draft by ``form_preview``. Every
view says which roles may use it with ``role_required`` (the portal shell,
``customerinfo.core.portal``). The home page (the dashboard), stores, tablets, sign-ups and
"Needs attention" have their own modules beside this one.
"""

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
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
from ..answers import kiosk_rules
from ..forms import (
    FormCreateForm,
    FormSettingsForm,
    RetentionForm,
    ShopperEmailForm,
    builder_apply,
    builder_parse,
    builder_present,
    service_errors_to_form,
)
from ..forms.logos import LogoForm
from ..models import Form

# --- forms and the form builder ----------------------------------------------------------------


@role_required(MANAGERS, doing="manage forms")
@require_GET
def forms_list(request: PortalRequest) -> HttpResponse:
    forms = list(selectors.forms_list())
    rows = [(form, selectors.draft_is_published(form=form)) for form in forms]
    return portal_page(request, "signup/portal/forms_list.html", "forms", {"rows": rows})


@role_required(MANAGERS, doing="create forms")
@require_http_methods(["GET", "POST"])
def form_create(request: PortalRequest) -> HttpResponse:
    has_default = Form.objects.filter(is_default=True).exists()
    create = FormCreateForm(request.POST or None, initial={"is_default": not has_default})
    if request.method == "POST" and create.is_valid():
        try:
            form = services.form_create(
                actor=request.user,
                name=create.cleaned_data["name"],
                is_default=create.cleaned_data["is_default"],
            )
        except ServiceError as error:
            service_errors_to_form(create, error.fields, error.message)
        else:
            messages.success(request, f"Form “{form.name}” created. Edit its fields, then publish.")
            return redirect("portal-form-edit", pk=form.pk)
    return portal_page(request, "signup/portal/form_create.html", "forms", {"form": create})


def _builder_page(
    request: PortalRequest,
    form: Form,
    definition: object,
    *,
    errors: dict[str, list[dict[str, str]]] | None = None,
    message: str = "",
    status: int = 200,
) -> HttpResponse:
    # The phone rules of the store the form is for, when there is only one to choose.
    store = selectors.only_open_location()
    return portal_page(
        request,
        "signup/portal/form_builder.html",
        "forms",
        {
            "form": form,
            "builder": builder_present(definition, errors),
            "error_message": message,
            # What the preview draws, exactly as a tablet would receive it (but unsaved).
            "preview_definition": definition,
            "preview_rules": kiosk_rules(country=store.country if store else ""),
            "preview_language": request.POST.get("preview_language")
            or request.GET.get("preview_language", ""),
            "versions": selectors.form_versions(form=form),
            "published": selectors.draft_is_published(form=form),
            "settings_form": FormSettingsForm(
                initial={"name": form.name, "is_default": form.is_default}
            ),
            "logo_form": LogoForm(),
        },
        status=status,
    )


@role_required(MANAGERS, doing="edit forms")
@require_http_methods(["GET", "POST"])
def form_edit(request: PortalRequest, pk: int) -> HttpResponse:
    """The builder. "Save draft" validates and saves; structural buttons only re-render.

    Adding, removing or moving a field re-renders the posted state unsaved, because a field just
    added has no label yet and would fail validation; nothing is stored until "Save draft".
    """
    form = get_object_or_404(Form.objects.select_related("current_version"), pk=pk)
    if request.method == "GET":
        return _builder_page(request, form, form.draft)
    definition = builder_parse(request.POST, base=form.draft)
    action = request.POST.get("action", "save")
    if action not in ("save", "publish"):
        builder_apply(
            definition["fields"], action=action, new_type=request.POST.get("new_field_type", "")
        )
        return _builder_page(request, form, definition)
    try:
        with transaction.atomic():
            services.form_draft_update(actor=request.user, form=form, definition=definition)
            version = (
                services.form_publish(actor=request.user, form=form)
                if action == "publish"
                else None
            )
    except ServiceError as error:
        return _builder_page(
            request, form, definition, errors=error.fields, message=error.message, status=400
        )
    if version is not None:
        messages.success(
            request, f"Published version {version.number}. Tablets pick it up within a minute."
        )
    else:
        messages.success(request, "Draft saved. Tablets keep showing the published version.")
    return redirect("portal-form-edit", pk=form.pk)


@role_required(MANAGERS, doing="edit forms")
@require_POST
def form_preview(request: PortalRequest, pk: int) -> HttpResponse:
    """The builder's unsaved inputs as a definition, for the live preview to draw; saves nothing."""
    form = get_object_or_404(Form, pk=pk)
    return JsonResponse({"definition": builder_parse(request.POST, base=form.draft)})


@role_required(MANAGERS, doing="edit forms")
@require_POST
def form_settings(request: PortalRequest, pk: int) -> HttpResponse:
    form = get_object_or_404(Form, pk=pk)
    settings_form = FormSettingsForm(request.POST)
    if settings_form.is_valid():
        services.form_update(
            actor=request.user,
            form=form,
            name=settings_form.cleaned_data["name"],
            is_default=settings_form.cleaned_data["is_default"],
        )
        messages.success(request, "Form settings saved.")
    else:
        messages.error(request, "A form needs a name.")
    return redirect("portal-form-edit", pk=form.pk)


# --- settings and privacy ----------------------------------------------------------------------


@role_required(MANAGERS, doing="see settings")
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
                {"doing": "change the retention period", "allowed": ["Owner"], "section": ""},
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
                messages.success(request, "Retention period saved.")
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


@role_required(MANAGERS, doing="export a shopper's data")
@require_POST
def shopper_export(request: PortalRequest) -> HttpResponse:
    lookup = ShopperEmailForm(request.POST, prefix="export")
    if not lookup.is_valid():
        messages.error(request, "Enter the shopper's email address to export their data.")
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


@role_required(MANAGERS, doing="erase a shopper's data")
@require_POST
def shopper_erase(request: PortalRequest) -> HttpResponse:
    """Two steps: the first POST shows what will go; the second, confirmed, erases it."""
    lookup = ShopperEmailForm(request.POST, prefix="erase")
    if not lookup.is_valid():
        messages.error(request, "Enter the shopper's email address to erase their data.")
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
    messages.success(request, f"Erased {deleted} sign-up(s) of {email} and their consents.")
    return redirect("portal-settings")


# --- audit log ---------------------------------------------------------------------------------


def _json_cell(value: Any, indent: int | None = None) -> str:
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=indent)


@role_required(MANAGERS, doing="read the audit log")
@require_GET
def audit_log(request: PortalRequest) -> HttpResponse:
    page = Paginator(selectors.audit_entries(), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "entry": entry,
            "who": entry.actor.email if entry.actor else (entry.actor_label or "System"),
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
