"""The portal's page of one sign-up: what the shopper answered and the evidence of each consent
(the exact wording shown, its hash, language, tablet, store, form version and times), its
answers set aside if any, and what became of it in each CRM.

A sign-up of another retailer is not in this tenant's schema, so its id is simply unknown
here: 404, like an id that never existed (a malformed one does not match the route).
"""

from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from customerinfo.core.portal import EVERYONE, MANAGERS, PortalRequest, portal_page, role_required

from ..models import Channel
from ..selectors import signup_detail
from ..selectors.access import store_scope


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _stamp(moment: datetime, zone_name: str) -> str:
    """Date in the active language's short form, time to the second, then the zone."""
    return f"{date_format(moment, 'SHORT_DATE_FORMAT')} {moment:%H:%M:%S} {zone_name}"


def _moment(moment: datetime, zone: ZoneInfo) -> dict[str, str]:
    """A time in the store's zone, with the same instant in UTC beside it."""
    local = timezone.localtime(moment, zone)
    return {
        "local": _stamp(local, local.tzname() or ""),
        "utc": _stamp(moment.astimezone(ZoneInfo("UTC")), "UTC"),
        "iso": moment.isoformat(),
    }


@role_required(EVERYONE, doing=gettext_lazy("see sign-ups"))
@require_GET
def submission_detail(request: PortalRequest, pk: UUID) -> HttpResponse:
    submission = signup_detail.submission_detail(submission_id=pk, scope=store_scope(request.user))
    if submission is None:
        raise Http404("No such sign-up")
    zone = _zone(submission.location.time_zone)
    consents = [
        {
            "consent": consent,
            "channel": Channel(consent.channel).label,
            "captured": _moment(consent.captured_at, zone),
            "received": _moment(consent.received_at, zone),
        }
        for consent in signup_detail.consents_of(submission)
    ]
    set_aside = [
        {
            "key": key,
            "value": entry.get("value", "") if isinstance(entry, dict) else entry,
            "message": entry.get("message", "") if isinstance(entry, dict) else "",
        }
        for key, entry in sorted((submission.set_aside or {}).items())
    ]
    return portal_page(
        request,
        "signup/portal/submission_detail.html",
        "signups",
        {
            "submission": submission,
            "answers": signup_detail.submission_answers(submission=submission),
            "consents": consents,
            "captured": _moment(submission.captured_at, zone),
            "received": _moment(submission.received_at, zone),
            "set_aside": set_aside,
            "deliveries": signup_detail.delivery_log(submission_id=submission.pk),
            "can_manage": request.user.role in MANAGERS,
        },
    )
