"""Portal pages of CRM sync: destinations, their health and deliveries, and a sign-up's log.

Thin views over crm_sync.services and crm_sync.selectors, with the portal's own conventions
(``role_required``, the forbidden page, messages, POST for every change). Owners and managers
manage destinations; everyone on the team may read a sign-up's delivery log, as they may read the
sign-ups themselves. Deliveries live in the public schema, so every lookup of one names the
tenant: an id of another retailer's delivery is simply not found.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customerinfo.core.errors import ServiceError
from customerinfo.core.portal import (
    EVERYONE,
    MANAGERS,
    PAGE_SIZE,
    PortalRequest,
    age,
    role_required,
)
from outbox.models import Delivery, DeliveryStatus
from signup.forms import service_errors_to_form
from signup.models import Location, Submission
from signup.selectors.access import store_scope

from . import selectors, services
from .forms import DestinationForm, PauseForm, ReplayForm, kinds_available
from .models import Destination, DestinationKind, DestinationState
from .providers import PROVIDERS, Result, Verdict
from .providers.webhook import secret_generate
from .words import (
    BREAKER_NAMES,
    BREAKER_WORDS,
    OUTCOME_WORDS,
    STATUS_WORDS,
    VERDICT_WORDS,
    replayed,
    resumed,
    statuses,
    words,
)

REPLAYABLE = (DeliveryStatus.DEAD, DeliveryStatus.HELD)


def _page(
    request: PortalRequest,
    template: str,
    context: dict[str, Any],
    *,
    section: str = "crm",
    status: int = 200,
) -> HttpResponse:
    return render(request, f"crm_sync/{template}", {"section": section, **context}, status=status)


def _health_row(destination: Destination, health: selectors.DestinationHealth) -> dict[str, Any]:
    oldest = age(timezone.now() - health.oldest_pending_at) if health.oldest_pending_at else "—"
    return {
        "destination": destination,
        "health": health,
        "oldest_pending": oldest,
        "breaker_words": words(BREAKER_WORDS, health.breaker),
        "breaker_name": words(BREAKER_NAMES, health.breaker),
        "available": destination.kind in PROVIDERS,
    }


def _replay_zone(destination: Destination) -> tuple[tzinfo, str]:
    """The zone the replay range is typed in, and how the page names it.

    A retailer has no zone of its own, its stores do: when the stores this destination takes
    sign-ups from (or all of them) share one zone, times are read in it, otherwise in UTC.
    """
    chosen = list(destination.locations.all())
    stores: Iterable[Location] = chosen or Location.objects.all()
    zones = {location.time_zone for location in stores}
    if len(zones) == 1:
        (name,) = zones
        return ZoneInfo(name), _("%(zone)s (the time zone of your stores)") % {"zone": name}
    if zones:
        return UTC, _("UTC (your stores are in different time zones)")
    return UTC, "UTC"


def _provider_missing(request: PortalRequest, destination: Destination) -> HttpResponse | None:
    if destination.kind in PROVIDERS:
        return None
    messages.error(
        request,
        _("%(kind)s destinations are not available yet.")
        % {"kind": destination.get_kind_display()},
    )
    return redirect("crm-destination", pk=destination.pk)


# --- destinations ------------------------------------------------------------------------------


@role_required(MANAGERS, doing=gettext_lazy("manage CRM destinations"))
@require_GET
def destinations_list(request: PortalRequest) -> HttpResponse:
    health = selectors.destinations_health()
    rows = [
        _health_row(destination, health[destination.pk])
        for destination in Destination.objects.all()
    ]
    return _page(request, "destinations_list.html", {"rows": rows})


@role_required(MANAGERS, doing=gettext_lazy("manage CRM destinations"))
@require_GET
def destination_kind_choose(request: PortalRequest) -> HttpResponse:
    return _page(request, "destination_kind.html", {"kinds": kinds_available()})


def _secret_page(
    request: PortalRequest, destination: Destination, secret: str, *, created: bool
) -> HttpResponse:
    # The secret exists in clear only in this response: stored encrypted, never shown again.
    response = _page(
        request,
        "secret_shown.html",
        {"destination": destination, "secret": secret, "created": created},
    )
    response["Cache-Control"] = "no-store"
    return response


@role_required(MANAGERS, doing=gettext_lazy("manage CRM destinations"))
@require_http_methods(["GET", "POST"])
def destination_create(request: PortalRequest, kind: str) -> HttpResponse:
    if kind not in dict(kinds_available()):
        return _page(
            request,
            "destination_kind.html",
            {"kinds": kinds_available(), "unknown": kind},
            status=404,
        )
    form = DestinationForm(request.POST or None, kind=kind, initial={"enabled": True})
    if request.method == "POST" and form.is_valid():
        credentials = form.credentials()
        generated = ""
        if kind == DestinationKind.WEBHOOK and not credentials.get("secret"):
            generated = credentials["secret"] = secret_generate()
        try:
            destination = services.destination_create(
                actor=request.user,
                name=form.cleaned_data["name"],
                kind=kind,
                settings=form.settings(),
                credentials=credentials,
                field_mapping=form.cleaned_data["field_mapping"],
                forms=form.cleaned_data["forms"],
                locations=form.cleaned_data["locations"],
                enabled=form.cleaned_data["enabled"],
            )
        except ServiceError as error:
            service_errors_to_form(form, error.fields, error.message)
        else:
            if generated:
                return _secret_page(request, destination, generated, created=True)
            messages.success(
                request,
                _("“%(name)s” created. Test its connection next.") % {"name": destination.name},
            )
            return redirect("crm-destination", pk=destination.pk)
    return _page(
        request,
        "destination_form.html",
        {"form": form, "kind_label": DestinationKind(kind).label, "destination": None},
        status=400 if form.errors else 200,
    )


@role_required(MANAGERS, doing=gettext_lazy("manage CRM destinations"))
@require_http_methods(["GET", "POST"])
def destination_edit(request: PortalRequest, pk: int) -> HttpResponse:
    destination = get_object_or_404(Destination, pk=pk)
    form = DestinationForm(request.POST or None, kind=destination.kind, destination=destination)
    if request.method == "POST" and form.is_valid():
        missing = _provider_missing(request, destination)
        if missing is not None:
            return missing
        try:
            services.destination_update(
                actor=request.user,
                destination=destination,
                name=form.cleaned_data["name"],
                settings=form.settings(),
                credentials=form.credentials(),
                field_mapping=form.cleaned_data["field_mapping"],
                forms=form.cleaned_data["forms"],
                locations=form.cleaned_data["locations"],
                enabled=form.cleaned_data["enabled"],
            )
        except ServiceError as error:
            service_errors_to_form(form, error.fields, error.message)
        else:
            messages.success(request, _("“%(name)s” saved.") % {"name": destination.name})
            return redirect("crm-destination", pk=destination.pk)
    return _page(
        request,
        "destination_form.html",
        {"form": form, "kind_label": destination.get_kind_display(), "destination": destination},
        status=400 if form.errors else 200,
    )


def _detail_page(
    request: PortalRequest,
    destination: Destination,
    *,
    replay_form: ReplayForm | None = None,
    status: int = 200,
) -> HttpResponse:
    zone, zone_name = _replay_zone(destination)
    health = selectors.destinations_health()[destination.pk]
    status_filter = request.GET.get("status", "")
    if status_filter not in DeliveryStatus.values:
        status_filter = ""
    deliveries = selectors.deliveries_of_destination(
        destination=destination, status=status_filter or None
    )
    page = selectors.CappedPaginator(deliveries, PAGE_SIZE).get_page(request.GET.get("page"))
    emails = dict(
        Submission.objects.filter(
            pk__in=[delivery.submission_id for delivery in page.object_list]
        ).values_list("pk", "email")
    )
    rows = [
        (delivery, emails.get(delivery.submission_id, ""), words(STATUS_WORDS, delivery.status))
        for delivery in page.object_list
    ]
    return _page(
        request,
        "destination_detail.html",
        {
            "destination": destination,
            "row": _health_row(destination, health),
            "page": page,
            "deliveries": rows,
            "status_filter": status_filter,
            "statuses": statuses(),
            "replayable": REPLAYABLE,
            "replay_form": replay_form or ReplayForm(zone=zone),
            "pause_form": PauseForm(),
            "zone": zone,
            "zone_name": zone_name,
            "is_paused": destination.state == DestinationState.PAUSED,
            "is_webhook": destination.kind == DestinationKind.WEBHOOK,
        },
        status=status,
    )


@role_required(MANAGERS, doing=gettext_lazy("manage CRM destinations"))
@require_GET
def destination_detail(request: PortalRequest, pk: int) -> HttpResponse:
    destination = get_object_or_404(Destination, pk=pk)
    return _detail_page(request, destination)


def _test_words(result: Result) -> dict[str, Any]:
    return {
        "ok": result.verdict == Verdict.DELIVERED,
        "verdict": result.verdict.value,
        "summary": str(VERDICT_WORDS[result.verdict]),
        "status_code": result.status_code,
        "message": result.message,
    }


@role_required(MANAGERS, doing=gettext_lazy("manage CRM destinations"))
@require_POST
def destination_test(request: PortalRequest, pk: int) -> HttpResponseBase:
    """One harmless call to the CRM. With HTMX only the verdict is swapped into the page."""
    destination = get_object_or_404(Destination, pk=pk)
    missing = _provider_missing(request, destination)
    if missing is not None:
        return missing
    result = _test_words(services.destination_test(actor=request.user, destination=destination))
    if request.headers.get("HX-Request") == "true":
        return render(request, "crm_sync/_test_result.html", {"result": result})
    detail = " ".join(
        part
        for part in (
            result["summary"],
            _("Status %(code)s.") % {"code": result["status_code"]}
            if result["status_code"]
            else "",
            result["message"],
        )
        if part
    )
    if result["ok"]:
        messages.success(request, detail)
    else:
        messages.error(request, detail)
    return redirect("crm-destination", pk=destination.pk)


@role_required(MANAGERS, doing=gettext_lazy("manage CRM destinations"))
@require_POST
def destination_pause(request: PortalRequest, pk: int) -> HttpResponseBase:
    destination = get_object_or_404(Destination, pk=pk)
    form = PauseForm(request.POST)
    form.is_valid()  # The reason is optional and free text: only its length can be wrong.
    reason = (form.cleaned_data.get("reason") or "").strip() or _("Paused by %(email)s.") % {
        "email": request.user.email
    }
    name = {"name": destination.name}
    if destination.state == DestinationState.PAUSED:
        messages.info(request, _("“%(name)s” is already paused.") % name)
    else:
        services.destination_pause(destination=destination, reason=reason, actor=request.user)
        messages.success(
            request,
            _("“%(name)s” is paused. New sign-ups are kept and held until you resume.") % name,
        )
    return redirect("crm-destination", pk=destination.pk)


@role_required(MANAGERS, doing=gettext_lazy("manage CRM destinations"))
@require_POST
def destination_resume(request: PortalRequest, pk: int) -> HttpResponseBase:
    destination = get_object_or_404(Destination, pk=pk)
    missing = _provider_missing(request, destination)
    if missing is not None:
        return missing
    if destination.state != DestinationState.PAUSED:
        messages.info(request, _("“%(name)s” is not paused.") % {"name": destination.name})
        return redirect("crm-destination", pk=destination.pk)
    count = services.destination_resume(actor=request.user, destination=destination)
    messages.success(request, resumed(count, name=destination.name))
    return redirect("crm-destination", pk=destination.pk)


@role_required(MANAGERS, doing=gettext_lazy("manage CRM destinations"))
@require_POST
def webhook_secret_rotate(request: PortalRequest, pk: int) -> HttpResponseBase:
    destination = get_object_or_404(Destination, pk=pk)
    try:
        secret = services.webhook_secret_rotate(actor=request.user, destination=destination)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("crm-destination", pk=destination.pk)
    return _secret_page(request, destination, secret, created=False)


def _datetime_words(value: datetime | None, zone: tzinfo) -> str:
    return timezone.localtime(value, zone).strftime("%Y-%m-%d %H:%M") if value else ""


@role_required(MANAGERS, doing=gettext_lazy("replay CRM deliveries"))
@require_POST
def destination_replay(request: PortalRequest, pk: int) -> HttpResponse:
    """Dead and held deliveries of a time range back to pending, spread out by the service."""
    destination = get_object_or_404(Destination, pk=pk)
    missing = _provider_missing(request, destination)
    if missing is not None:
        return missing
    zone, _ = _replay_zone(destination)
    form = ReplayForm(request.POST, zone=zone)
    if not form.is_valid():
        return _detail_page(request, destination, replay_form=form, status=400)
    since, until = form.cleaned_data["since"], form.cleaned_data["until"]
    try:
        count = services.deliveries_replay(
            actor=request.user, destination=destination, since=since, until=until
        )
    except ServiceError as error:
        service_errors_to_form(form, error.fields, error.message)
        return _detail_page(request, destination, replay_form=form, status=error.status_code)
    since_words, until_words = _datetime_words(since, zone), _datetime_words(until, zone)
    messages.success(request, replayed(count, since=since_words, until=until_words))
    return redirect("crm-destination", pk=destination.pk)


@role_required(MANAGERS, doing=gettext_lazy("replay CRM deliveries"))
@require_POST
def delivery_replay(request: PortalRequest, pk: int) -> HttpResponseBase:
    """One delivery again. ``back`` says which page the button was on (never a free URL)."""
    delivery = get_object_or_404(Delivery, pk=pk, tenant_id=request.tenant.pk)
    destination = get_object_or_404(Destination, pk=delivery.destination_id)
    missing = _provider_missing(request, destination)
    if missing is not None:
        return missing
    count = services.deliveries_replay(
        actor=request.user, destination=destination, delivery_id=delivery.pk
    )
    if count:
        messages.success(
            request,
            _("The sign-up will be sent to “%(name)s” again.") % {"name": destination.name},
        )
    else:
        messages.info(request, _("This delivery is neither dead nor held: nothing to replay."))
    if request.POST.get("back") == "submission":
        return redirect("crm-submission-deliveries", submission_id=delivery.submission_id)
    return redirect("crm-destination", pk=destination.pk)


# --- a sign-up's delivery log ------------------------------------------------------------------


@role_required(EVERYONE, doing=gettext_lazy("see sign-ups"))
@require_GET
def submission_deliveries(request: PortalRequest, submission_id: UUID) -> HttpResponse:
    # Staff limited to stores find only their stores' sign-ups here, as on the sign-up's page.
    visible = store_scope(request.user).narrow(Submission.objects.select_related("location"))
    submission = get_object_or_404(visible, pk=submission_id)
    deliveries = selectors.deliveries_of_submission(submission_id=submission.pk)
    destinations = Destination.objects.in_bulk([row.destination_id for row in deliveries])
    rows = [
        {
            "delivery": delivery,
            "destination": destinations.get(delivery.destination_id),
            "attempts": [
                (attempt, words(OUTCOME_WORDS, attempt.outcome))
                for attempt in delivery.attempt_log.all()
            ],
            "status": words(STATUS_WORDS, delivery.status),
            "replayable": delivery.status in REPLAYABLE,
        }
        for delivery in deliveries
    ]
    return _page(
        request,
        "submission_deliveries.html",
        {"submission": submission, "rows": rows, "can_replay": request.user.role in MANAGERS},
        section="signups",
    )
