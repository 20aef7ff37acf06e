"""Portal pages of the tablets: status and queue per store, pairing, revoking.

What a tablet holds is known only from what it last reported (its heartbeat), so every figure
says when it was reported. A revoked tablet keeps its queue and still reports it: those sign-ups
are recovered by pairing it again, and the page says so rather than "Nothing unsent".
"""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods

from customerinfo.core.errors import ServiceError
from customerinfo.core.portal import (
    EVERYONE,
    MANAGERS,
    PortalRequest,
    age,
    portal_page,
    role_required,
)

from .. import selectors, services
from ..attention_forms import refusal_words
from ..forms import PairForm, service_errors_to_form
from ..models import Device


def held_words(device: Device) -> str:
    """ "1 held: invalid email", "3 held: 2 store closed, 1 invalid email" (biggest first)."""
    reasons = sorted(
        (
            (count, code)
            for code, count in (device.held_reasons or {}).items()
            if type(count) is int and count > 0
        ),
        key=lambda item: (-item[0], item[1]),
    )
    words = ngettext("%(count)s held", "%(count)s held", device.held_count) % {
        "count": device.held_count
    }
    if len(reasons) == 1 and reasons[0][0] == device.held_count:
        return f"{words}: {refusal_words(reasons[0][1])}"
    if reasons:
        return f"{words}: " + ", ".join(f"{count} {refusal_words(code)}" for count, code in reasons)
    return words


def queue_words(device: Device, now: datetime) -> str:
    """What the tablet holds, as it last said: "3 unsent, oldest 2 h · 1 held: invalid email"."""
    parts = []
    if device.queue_depth:
        figures: dict[str, object] = {"count": device.queue_depth}
        if device.oldest_unsent_at:
            figures["age"] = age(now - device.oldest_unsent_at)
            unsent = ngettext(
                "%(count)s unsent, oldest %(age)s",
                "%(count)s unsent, oldest %(age)s",
                device.queue_depth,
            )
        else:
            unsent = ngettext("%(count)s unsent", "%(count)s unsent", device.queue_depth)
        parts.append(unsent % figures)
    if device.held_count:
        parts.append(held_words(device))
    return " · ".join(parts) or gettext("Nothing unsent")


def _device_row(device: Device, now: datetime) -> dict[str, Any]:
    if device.revoked_at is not None:
        status = "revoked"
    elif selectors.device_is_online(device=device, now=now):
        status = "online"
    else:
        status = "offline"
    waiting = device.queue_depth + device.held_count
    reported = device.queue_reported_at
    return {
        "device": device,
        "status": status,
        "queue": queue_words(device, now),
        "waiting": waiting,
        # Sign-ups a revoked tablet still holds: they arrive only if it is paired again.
        "stranded": waiting if status == "revoked" else 0,
        "reported": gettext("reported %(age)s ago") % {"age": age(now - reported)}
        if reported
        else "",
        "last_seen": gettext("Seen %(age)s ago") % {"age": age(now - device.last_seen_at)}
        if device.last_seen_at
        else gettext("Never seen"),
    }


@role_required(EVERYONE, doing=gettext_lazy("see tablets"))
@require_GET
def devices_list(request: PortalRequest) -> HttpResponse:
    now = timezone.now()
    # ?offline=1: only tablets that stopped checking in, the ones someone should go and look at.
    offline_only = request.GET.get("offline") == "1"
    scope = selectors.store_scope(request.user)
    stores = [
        (location, [_device_row(device, now) for device in devices])
        for location, devices in selectors.devices_by_location(scope=scope)
    ]
    rows = [row for _, store_rows in stores for row in store_rows]
    counts = {
        status: sum(1 for row in rows if row["status"] == status)
        for status in ("online", "offline", "revoked")
    }
    shown = (
        [
            (location, [row for row in store_rows if row["status"] == "offline"])
            for location, store_rows in stores
        ]
        if offline_only
        else stores
    )
    return portal_page(
        request,
        "signup/portal/devices_list.html",
        "tablets",
        {
            "stores": [(location, store_rows) for location, store_rows in shown if store_rows]
            if offline_only
            else shown,
            "offline_only": offline_only,
            "counts": counts,
            "stranded": [row for row in rows if row["stranded"]],
            "pending": selectors.pairing_codes_pending(now=now, scope=scope),
            "can_manage": request.user.role in MANAGERS,
        },
    )


@role_required(MANAGERS, doing=gettext_lazy("pair tablets"))
@require_http_methods(["GET", "POST"])
def device_pair(request: PortalRequest) -> HttpResponse:
    only = selectors.only_open_location()
    chosen = request.GET.get("location") or (only.pk if only else None)
    pair = PairForm(request.POST or None, initial={"location": chosen})
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
            response = portal_page(
                request,
                "signup/portal/device_code.html",
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
    return portal_page(request, "signup/portal/device_pair.html", "tablets", {"form": pair})


@role_required(MANAGERS, doing=gettext_lazy("revoke tablets"))
@require_http_methods(["GET", "POST"])
def device_revoke(request: PortalRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(Device.objects.select_related("location"), pk=pk)
    if request.method == "POST":
        services.device_revoke(actor=request.user, device=device)
        messages.success(
            request,
            gettext("“%(name)s” is revoked; it can no longer send sign-ups.")
            % {"name": device.name},
        )
        return redirect("portal-devices")
    return portal_page(
        request,
        "signup/portal/device_revoke.html",
        "tablets",
        {"device": device, "waiting": device.queue_depth + device.held_count},
    )
