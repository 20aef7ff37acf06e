"""Portal pages of a retailer's host: forms, stores, tablets, sign-ups, team, settings, audit.

Plain server-rendered pages; HTMX only re-renders the form builder's live preview and refreshes
the tablets' status. Every view says which roles may use it with ``role_required``; a signed-in
user with another role gets a 403 page that says why, an anonymous one the sign-in page.
"""

import csv
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import update_wrapper
from typing import Any, Concatenate, ParamSpec, TypeAlias, cast
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_tenants.utils import tenant_context

from customerinfo.accounts import selectors as account_selectors
from customerinfo.accounts import services as account_services
from customerinfo.accounts.models import Role, User
from customerinfo.errors import ServiceError
from tenants.models import Tenant

from .. import selectors, services
from ..forms import (
    FormCreateForm,
    FormSettingsForm,
    LocationEditForm,
    LocationForm,
    MemberCreateForm,
    MemberRoleForm,
    PairForm,
    RetentionForm,
    ShopperEmailForm,
    SubmissionFilterForm,
    builder_apply,
    builder_parse,
    builder_present,
    preview_present,
    service_errors_to_form,
)
from ..models import Channel, Device, Form, Location, Submission

P = ParamSpec("P")


class PortalRequest(HttpRequest):
    """A request that passed ``role_required``: a signed-in member of this tenant's team."""

    user: User
    tenant: Tenant


PortalView: TypeAlias = Callable[Concatenate[PortalRequest, P], HttpResponseBase]
View: TypeAlias = Callable[Concatenate[HttpRequest, P], HttpResponseBase]

EVERYONE = frozenset(Role)
MANAGERS = frozenset({Role.OWNER, Role.MANAGER})
OWNERS = frozenset({Role.OWNER})

PAGE_SIZE = 50
CSV_CHUNK_SIZE = 500


def role_required(roles: frozenset[Role], *, doing: str) -> Callable[[PortalView[P]], View[P]]:
    """Lets ``roles`` in; ``doing`` completes "Your role cannot ..." on the 403 page."""

    def decorate(view: PortalView[P]) -> View[P]:
        def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponseBase:
            user = request.user
            if not isinstance(user, User) or not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if user.role not in roles:
                allowed = sorted(Role(role).label for role in roles)
                return render(
                    request,
                    "signup/portal/forbidden.html",
                    {"doing": doing, "allowed": allowed, "section": ""},
                    status=403,
                )
            return view(cast(PortalRequest, request), *args, **kwargs)

        update_wrapper(wrapper, view)
        return wrapper

    return decorate


def _page(
    request: HttpRequest,
    template: str,
    section: str,
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request, f"signup/portal/{template}", {"section": section, **(context or {})}, status=status
    )


# --- home --------------------------------------------------------------------------------------


@role_required(EVERYONE, doing="see the portal")
def portal_home(request: PortalRequest) -> HttpResponse:
    return _page(
        request,
        "home.html",
        "home",
        {
            "team_size": account_selectors.member_count_active(),
            "summary": selectors.portal_summary(now=timezone.now()),
        },
    )


# --- forms and the form builder ----------------------------------------------------------------


@role_required(MANAGERS, doing="manage forms")
@require_GET
def forms_list(request: PortalRequest) -> HttpResponse:
    forms = list(selectors.forms_list())
    rows = [(form, selectors.draft_is_published(form=form)) for form in forms]
    return _page(request, "forms_list.html", "forms", {"rows": rows})


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
    return _page(request, "form_create.html", "forms", {"form": create})


def _builder_page(
    request: PortalRequest,
    form: Form,
    definition: Any,
    *,
    errors: dict[str, list[dict[str, str]]] | None = None,
    message: str = "",
    status: int = 200,
) -> HttpResponse:
    language = request.POST.get("preview_language") or request.GET.get("preview_language", "")
    return _page(
        request,
        "form_builder.html",
        "forms",
        {
            "form": form,
            "builder": builder_present(definition, errors),
            "error_message": message,
            "preview": preview_present(definition, language),
            "versions": selectors.form_versions(form=form),
            "published": selectors.draft_is_published(form=form),
            "settings_form": FormSettingsForm(
                initial={"name": form.name, "is_default": form.is_default}
            ),
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
        builder_apply(definition, action, request.POST.get("new_field_type", ""))
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
    """The live preview (an HTMX partial) of the builder's unsaved inputs."""
    form = get_object_or_404(Form, pk=pk)
    definition = builder_parse(request.POST, base=form.draft)
    language = request.POST.get("preview_language", "")
    return render(
        request, "signup/portal/_preview.html", {"preview": preview_present(definition, language)}
    )


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


# --- stores ------------------------------------------------------------------------------------


@role_required(MANAGERS, doing="manage stores")
@require_GET
def locations_list(request: PortalRequest) -> HttpResponse:
    return _page(
        request, "locations_list.html", "stores", {"locations": selectors.locations_list()}
    )


@role_required(MANAGERS, doing="manage stores")
@require_http_methods(["GET", "POST"])
def location_create(request: PortalRequest) -> HttpResponse:
    store = LocationForm(request.POST or None, initial={"country": "US", "time_zone": "UTC"})
    if request.method == "POST" and store.is_valid():
        data = store.cleaned_data
        try:
            location = services.location_create(
                actor=request.user,
                name=data["name"],
                code=data["code"],
                country=data["country"],
                time_zone=data["time_zone"],
                form=data["form"],
            )
        except ServiceError as error:
            service_errors_to_form(store, error.fields, error.message)
        else:
            messages.success(request, f"Store “{location.name}” created. Pair its tablets next.")
            return redirect("portal-locations")
    return _page(request, "location_form.html", "stores", {"form": store, "location": None})


@role_required(MANAGERS, doing="manage stores")
@require_http_methods(["GET", "POST"])
def location_edit(request: PortalRequest, pk: int) -> HttpResponse:
    location = get_object_or_404(Location, pk=pk)
    store = LocationEditForm(request.POST or None, initial=LocationEditForm.initial_for(location))
    if request.method == "POST" and store.is_valid():
        data = store.cleaned_data
        try:
            services.location_update(
                actor=request.user,
                location=location,
                name=data["name"],
                country=data["country"],
                time_zone=data["time_zone"],
                form=data["form"],
                overrides=store.overrides(),
                is_active=data["is_active"],
            )
        except ServiceError as error:
            service_errors_to_form(store, error.fields, error.message)
        else:
            messages.success(request, f"Store “{location.name}” saved.")
            return redirect("portal-locations")
    return _page(request, "location_form.html", "stores", {"form": store, "location": location})


# --- tablets -----------------------------------------------------------------------------------


def age(delta: timedelta) -> str:
    """A short, readable duration: "4 min", "2 h", "3 d"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 1:
        return "under 1 min"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def _device_row(device: Device, now: datetime) -> dict[str, Any]:
    if device.revoked_at is not None:
        status = "revoked"
    elif selectors.device_is_online(device=device, now=now):
        status = "online"
    else:
        status = "offline"
    if device.queue_depth and device.oldest_unsent_at:
        queue = f"{device.queue_depth} unsent, oldest {age(now - device.oldest_unsent_at)}"
    elif device.queue_depth:
        queue = f"{device.queue_depth} unsent"
    else:
        queue = "Nothing unsent"
    last_seen = f"{age(now - device.last_seen_at)} ago" if device.last_seen_at else "Never"
    return {"device": device, "status": status, "queue": queue, "last_seen": last_seen}


@role_required(EVERYONE, doing="see tablets")
@require_GET
def devices_list(request: PortalRequest) -> HttpResponse:
    now = timezone.now()
    stores = [
        (location, [_device_row(device, now) for device in devices])
        for location, devices in selectors.devices_by_location()
    ]
    return _page(
        request,
        "devices_list.html",
        "tablets",
        {
            "stores": stores,
            "pending": selectors.pairing_codes_pending(now=now),
            "can_manage": request.user.role in MANAGERS,
        },
    )


@role_required(MANAGERS, doing="pair tablets")
@require_http_methods(["GET", "POST"])
def device_pair(request: PortalRequest) -> HttpResponse:
    pair = PairForm(request.POST or None, initial={"location": request.GET.get("location")})
    if request.method == "POST" and pair.is_valid():
        location = pair.cleaned_data["location"]
        try:
            pairing, code = services.pairing_code_create(
                actor=request.user, location=location, device_name=pair.cleaned_data["device_name"]
            )
        except ServiceError as error:
            service_errors_to_form(pair, error.fields, error.message)
        else:
            # The code exists only in this response: it is stored hashed and never shown again.
            response = _page(
                request,
                "device_code.html",
                "tablets",
                {
                    "pairing": pairing,
                    "code": code,
                    "expires_local": timezone.localtime(
                        pairing.expires_at, ZoneInfo(location.time_zone)
                    ),
                    "minutes": int((pairing.expires_at - timezone.now()).total_seconds() // 60),
                },
            )
            response["Cache-Control"] = "no-store"
            return response
    return _page(request, "device_pair.html", "tablets", {"form": pair})


@role_required(MANAGERS, doing="revoke tablets")
@require_http_methods(["GET", "POST"])
def device_revoke(request: PortalRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(Device.objects.select_related("location"), pk=pk)
    if request.method == "POST":
        services.device_revoke(actor=request.user, device=device)
        messages.success(request, f"“{device.name}” is revoked; it can no longer send sign-ups.")
        return redirect("portal-devices")
    return _page(request, "device_revoke.html", "tablets", {"device": device})


# --- sign-ups ----------------------------------------------------------------------------------


def _filtered(request: HttpRequest) -> tuple[SubmissionFilterForm, Any]:
    """The filter form and the sign-ups it selects; an invalid filter value is ignored."""
    filters = SubmissionFilterForm(request.GET)
    filters.is_valid()
    values = {name: filters.cleaned_data.get(name) for name in ("date_from", "date_to", "location")}
    submissions = selectors.submissions_filtered(
        email=filters.cleaned_data.get("email") or "", **values
    )
    return filters, submissions


def _consent_summary(submission: Submission) -> list[tuple[str, bool]]:
    return [(Channel(c.channel).label, c.granted) for c in submission.consents.all()]


@role_required(EVERYONE, doing="see sign-ups")
@require_GET
def submissions_list(request: PortalRequest) -> HttpResponse:
    filters, submissions = _filtered(request)
    page = Paginator(submissions.prefetch_related("consents"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [(submission, _consent_summary(submission)) for submission in page.object_list]
    return _page(
        request,
        "submissions_list.html",
        "signups",
        {
            "filters": filters,
            "page": page,
            "rows": rows,
            "can_export": request.user.role in MANAGERS,
        },
    )


CSV_HEADER = [
    "id",
    "received_at",
    "captured_at",
    "store_code",
    "store",
    "tablet_id",
    "form_version",
    "locale",
    "email",
    "first_name",
    "last_name",
    "phone",
    "birthday",
    "postal_code",
    "answers",
    "email_consent",
    "email_consent_captured_at",
    "email_consent_text_sha256",
    "sms_consent",
    "sms_consent_captured_at",
    "sms_consent_text_sha256",
]


def _cell(value: str) -> str:
    """Defuses spreadsheet formulas (CSV injection); phone numbers like +33… stay numbers."""
    if value[:1] in ("=", "@", "\t", "\r") or (
        value[:1] in ("+", "-") and not value[1:].replace(" ", "").isdigit()
    ):
        return "'" + value
    return value


def _csv_row(submission: Submission) -> list[str]:
    consents = {consent.channel: consent for consent in submission.consents.all()}
    birthday = (
        f"{submission.birthday_month:02d}-{submission.birthday_day:02d}"  # MM-DD, no year
        if submission.birthday_month and submission.birthday_day
        else ""
    )
    row = [
        str(submission.pk),
        submission.received_at.isoformat(),
        submission.captured_at.isoformat(),
        submission.location.code,
        submission.location.name,
        str(submission.device_id or ""),
        str(submission.form_version.number),
        submission.locale,
        submission.email,
        submission.first_name,
        submission.last_name,
        submission.phone,
        birthday,
        submission.postal_code,
        json.dumps(submission.answers, ensure_ascii=False, sort_keys=True)
        if submission.answers
        else "",
    ]
    for channel in (Channel.EMAIL, Channel.SMS):
        consent = consents.get(channel)
        if consent is None:
            row += ["", "", ""]
        else:
            row += [
                "granted" if consent.granted else "refused",
                consent.captured_at.isoformat(),
                consent.text_hash,
            ]
    return [_cell(value) for value in row]


class _Echo:
    """A file-like object csv.writer writes to, which hands each line back instead of storing."""

    def write(self, value: str) -> str:
        return value


@role_required(MANAGERS, doing="export sign-ups")
@require_GET
def submissions_export(request: PortalRequest) -> StreamingHttpResponse:
    filters, submissions = _filtered(request)
    submissions = submissions.prefetch_related("consents")
    tenant = request.tenant
    services.audit_record(
        actor=request.user,
        action="submission.export",
        target=services.retailer_settings(),
        new={"filters": {name: str(value or "") for name, value in filters.cleaned_data.items()}},
    )
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        # The body is produced after the view returned, while the server sends it; the schema is
        # named again so the rows come from this tenant whatever ran on the connection meanwhile.
        with tenant_context(tenant):
            yield "\ufeff" + writer.writerow(CSV_HEADER)  # BOM: spreadsheets then read UTF-8
            # iterator(): a server-side cursor fetching CSV_CHUNK_SIZE rows (and their consents)
            # at a time, so a million sign-ups never sit in memory at once.
            for submission in submissions.iterator(chunk_size=CSV_CHUNK_SIZE):
                yield writer.writerow(_csv_row(submission))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="signups-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


# --- team --------------------------------------------------------------------------------------


@role_required(OWNERS, doing="manage the team")
@require_http_methods(["GET", "POST"])
def team_list(request: PortalRequest) -> HttpResponse:
    add = MemberCreateForm(request.POST or None, initial={"role": Role.STAFF})
    if request.method == "POST" and add.is_valid():
        data = add.cleaned_data
        try:
            member = account_services.member_create(
                actor=request.user,
                email=data["email"],
                full_name=data["full_name"],
                role=data["role"],
                password=data["password"],
            )
        except ServiceError as error:
            service_errors_to_form(add, error.fields, error.message)
        else:
            messages.success(request, f"{member.email} can now sign in at {request.get_host()}.")
            return redirect("portal-team")
    return _page(
        request,
        "team.html",
        "team",
        {"members": account_selectors.members_list(), "form": add, "roles": Role.choices},
        status=400 if add.errors else 200,
    )


@role_required(OWNERS, doing="manage the team")
@require_POST
def member_update(request: PortalRequest, pk: int) -> HttpResponse:
    member = get_object_or_404(User, pk=pk)
    action = request.POST.get("action", "role")
    try:
        if action == "deactivate":
            account_services.member_deactivate(actor=request.user, member=member)
            messages.success(request, f"{member.email} is deactivated and signed out.")
        elif action == "activate":
            account_services.member_activate(actor=request.user, member=member)
            messages.success(request, f"{member.email} can sign in again.")
        else:
            role = MemberRoleForm(request.POST)
            if not role.is_valid():
                raise ServiceError("validation_failed", "Choose owner, manager or staff.")
            account_services.member_role_change(
                actor=request.user, member=member, role=role.cleaned_data["role"]
            )
            messages.success(request, f"{member.email} is now {member.get_role_display()}.")
    except ServiceError as error:
        messages.error(request, error.message)
    return redirect("portal-team")


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
                "signup/portal/forbidden.html",
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
    return _page(
        request,
        "settings.html",
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
    services.audit_record(
        actor=request.user,
        action="shopper.export",
        target=services.retailer_settings(),
        new={
            "email_sha256": services.sha256(data["email"]),
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
        return _page(request, "erase_confirm.html", "settings", {"email": email, "count": count})
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
    return _page(request, "audit_log.html", "audit", {"page": page, "rows": rows})
