"""Scheduled exports: each morning (daily) or Monday morning (weekly), the sign-ups of the day or
week before, in the shop's time zone, as the background exports a manager asks for by hand.

Each one is an ``Export`` row made by ``export_request`` (same worker task, same file storage,
same expiring emailed link, same audit entry), claimed by a ``PeriodicMail`` row in the same
transaction: a beat run repeated, or two workers at once, make one export per user and period.
"""

import logging
from datetime import datetime

from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import selectors as signup_selectors
from ..models import Export, ExportSchedule, PeriodicMail, PeriodicMailKind
from ..selectors import notifications as selectors
from .exports import export_request
from .notifications import portal_origin

logger = logging.getLogger(__name__)


def _filters(saved: dict[str, str], period: selectors.Period) -> signup_selectors.SignupFilters:
    """The user's saved filters over ``period`` (whole days in the shop's zone)."""
    return signup_selectors.SignupFilters.from_json(
        {
            **saved,
            "date_from": period.first.isoformat(),
            "date_to": period.last.isoformat(),
            "zone": str(period.zone),
        }
    )


def scheduled_exports_create(*, now: datetime | None = None) -> list[Export]:
    """Every scheduled export due for the period that just ended; returns those it made."""
    now = now or timezone.now()
    zone = selectors.shop_zone()
    monday = now.astimezone(zone).weekday() == 0
    schedules = [ExportSchedule.DAILY] + ([ExportSchedule.WEEKLY] if monday else [])
    made = []
    for preference in selectors.export_subscribers(schedules=schedules):
        weekly = preference.export_schedule == ExportSchedule.WEEKLY
        period = (
            selectors.last_week(now=now, zone=zone)
            if weekly
            else selectors.yesterday(now=now, zone=zone)
        )
        try:
            filters = _filters(preference.export_filters, period)
        except (ObjectDoesNotExist, ValueError):
            # A store or form named by the saved filters is gone: exporting every store instead
            # would send more than was asked for. The notifications page says so.
            logger.warning("scheduled export skipped: its filters name a deleted store or form")
            continue
        kind = PeriodicMailKind.WEEKLY_EXPORT if weekly else PeriodicMailKind.DAILY_EXPORT
        try:
            with transaction.atomic():
                claim = PeriodicMail.objects.create(
                    kind=kind, user=preference.user, period_start=period.first
                )
                export = export_request(
                    actor=preference.user,
                    filters=filters,
                    portal_origin=portal_origin(preference),
                )
                claim.export = export
                claim.save(update_fields=["export"])
        except IntegrityError:
            continue  # made already for this period
        made.append(export)
    return made


#: Morning hours (shop time) in which the hourly run makes the day's exports and the Monday
#: digest: more than one, so a missed beat or a worker restart delays them by an hour, no more.
MORNING_HOURS = range(6, 12)


def morning_mail_send(*, now: datetime | None = None) -> tuple[int, int]:
    """The morning's scheduled exports and, on Monday, the digests: (exports made, digests
    sent). Both are claimed per user and period, so each later run of the morning adds none."""
    from .digests import digests_send

    now = now or timezone.now()
    exports = scheduled_exports_create(now=now)
    digests = 0
    if now.astimezone(selectors.shop_zone()).weekday() == 0:
        digests = digests_send(now=now)
    return len(exports), digests
