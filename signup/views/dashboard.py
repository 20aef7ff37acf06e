"""The portal's home page: a head office's dashboard.

Sign-ups per day over 30 or 90 days as a chart drawn here as SVG (no script: the span is a
link), per-store figures, the tablets that need someone, and each CRM's health. Every figure
comes from small tables (daily counts, tablets, undelivered deliveries), never from a scan of
the sign-ups, so the page costs the same for a shop and for a chain (bench/portal.py).
"""

from dataclasses import dataclass
from datetime import date, datetime

from django.http import HttpResponse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.http import require_GET

from customerinfo.core.accounts import selectors as account_selectors
from customerinfo.core.portal import EVERYONE, PortalRequest, age, portal_page, role_required

from ..selectors import dashboard
from ..selectors.access import store_scope
from ..selectors.dashboard import DayCount, StoreFigures

#: The chart's drawing area, in SVG user units (the image scales to the page's width).
CHART_WIDTH, CHART_HEIGHT = 720, 240
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 48, 712, 12, 208


# Coordinates are text made here: the template would pass every float through number
# formatting, 180 bars' worth of it.
@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    width: str
    height: str
    label: str


@dataclass(frozen=True)
class Tick:
    position: str
    label: str


def _unit(value: float) -> str:
    return f"{value:.2f}"


def _count(value: int) -> str:
    """A figure with the active language's thousands separator: "4,001", "4 001"."""
    return number_format(value, force_grouping=True)


def _day(day: date, format_name: str) -> str:
    """A day in the active language (its month and weekday names), as Django formats it."""
    return date_format(day, format_name)


def _nice_ceiling(value: int) -> int:
    """The axis' top: 1, 2 or 5 times a power of ten, at least ``value`` (and at least 4)."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= max(value, 4):
                return top * step
        top *= 10


def chart(series: list[DayCount]) -> dict[str, object]:
    """Bars, axis ticks and words of the chart of ``series``."""
    highest = max((day.signups for day in series), default=0)
    top = _nice_ceiling(highest)
    plot_height = PLOT_BOTTOM - PLOT_TOP
    slot = (PLOT_RIGHT - PLOT_LEFT) / max(len(series), 1)
    bars = []
    for index, day in enumerate(series):
        height = plot_height * day.signups / top
        bars.append(
            Bar(
                x=_unit(PLOT_LEFT + index * slot + slot * 0.15),
                y=_unit(PLOT_BOTTOM - height),
                width=_unit(slot * 0.7),
                height=_unit(height),
                label=f"{_day(day.day, 'D j M')}: {_count(day.signups)}",
            )
        )
    every = 7 if len(series) <= 31 else 14
    days = [
        Tick(_unit(PLOT_LEFT + (index + 0.5) * slot), _day(day.day, "j M"))
        for index, day in enumerate(series)
        if (len(series) - 1 - index) % every == 0
    ]
    # Gridlines at whole numbers only: a line drawn at 2.5 and labelled "2" misreads every bar.
    # The top is 1, 2 or 5 times a power of ten (at least 5): halves of 10 and 20, fifths of 5.
    step = top // 5 if str(top).startswith("5") else top // 2
    levels = [
        Tick(_unit(PLOT_BOTTOM - plot_height * value / top), _count(value))
        for value in range(0, top + 1, step)
    ]
    total = sum(day.signups for day in series)
    return {
        "bars": bars,
        "days": days,
        "levels": levels,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": str(PLOT_LEFT),
        "right": str(PLOT_RIGHT),
        "level_x": str(PLOT_LEFT - 6),
        "day_y": str(PLOT_BOTTOM + 20),
        "total": _count(total),
        # The plain number too: the sentences around the total agree with it in number.
        "count": total,
        "highest": _count(highest),
        "first": series[0].day if series else None,
        "last": series[-1].day if series else None,
    }


def _rate(rate: float | None) -> str:
    if rate is None:
        return "—"
    # Translators: a share in percent; French and Spanish put a space before the sign.
    return gettext("%(percent)s%%") % {"percent": _count(round(rate * 100))}


def _store_row(store: StoreFigures) -> dict[str, object]:
    return {
        "location": store.location,
        "today": _count(store.today),
        "week": _count(store.week),
        "month": _count(store.month),
        "email_rate": _rate(store.email_rate),
        "sms_rate": _rate(store.sms_rate),
    }


def _tablet_row(tablet: dashboard.TabletAttention, now: datetime) -> dict[str, object]:
    device = tablet.device
    problems = []
    if tablet.never_seen:
        problems.append(gettext("never seen"))
    elif tablet.offline and device.last_seen_at is not None:
        problems.append(gettext("offline for %(age)s") % {"age": age(now - device.last_seen_at)})
    if tablet.unsent:
        figures = {"count": _count(tablet.unsent)}
        if device.oldest_unsent_at:
            figures["age"] = age(now - device.oldest_unsent_at)
            unsent = ngettext(
                "%(count)s unsent, oldest %(age)s",
                "%(count)s unsent, oldest %(age)s",
                tablet.unsent,
            )
        else:
            unsent = ngettext("%(count)s unsent", "%(count)s unsent", tablet.unsent)
        problems.append(unsent % figures)
    if tablet.held:
        problems.append(
            ngettext(
                "%(count)s held (refused by the server)",
                "%(count)s held (refused by the server)",
                tablet.held,
            )
            % {"count": _count(tablet.held)}
        )
    return {"device": device, "problems": "; ".join(problems)}


#: A CRM connection's state at a glance (``CrmHealth.status``), in words.
CRM_STATUS_WORDS = {
    "ok": gettext_lazy("Up to date"),
    "sending": gettext_lazy("Sending"),
    "failing": gettext_lazy("Some failed"),
    "paused": gettext_lazy("Paused"),
    "off": gettext_lazy("Turned off"),
}


def _span(request: PortalRequest) -> int:
    asked = request.GET.get("days", "")
    return int(asked) if asked in {str(span) for span in dashboard.SPANS} else dashboard.SPANS[0]


@role_required(EVERYONE, doing=gettext_lazy("see the portal"))
@require_GET
def portal_home(request: PortalRequest) -> HttpResponse:
    now = timezone.now()
    span = _span(request)
    scope = store_scope(request.user)
    stores = dashboard.stores_figures(now=now, scope=scope)
    zone = dashboard.chart_zone(store.location for store in stores)
    series = dashboard.days_series(last_day=now.astimezone(zone).date(), span=span, scope=scope)
    tablets = dashboard.tablets_overview(now=now, scope=scope)
    # The CRM's deliveries are every store's sign-ups: staff limited to stores see none of it.
    crm = [] if scope.limited else dashboard.crm_health()
    forms_published = dashboard.forms_published_count()
    return portal_page(
        request,
        "signup/portal/home.html",
        "home",
        {
            "team_size": account_selectors.member_count_active(),
            "span": span,
            "spans": dashboard.SPANS,
            "zone": str(zone),
            "chart": chart(series),
            # Text made here: the template's date filter, 90 times, cost more than the rest.
            "series": [
                (
                    _day(day.day, "D j M Y"),
                    _count(day.signups),
                    _count(day.email_opt_ins),
                    _count(day.sms_opt_ins),
                )
                for day in series
            ],
            "stores": [_store_row(store) for store in stores],
            "open_stores": sum(store.location.is_active for store in stores),
            "tablets": tablets.paired,
            "tablets_online": tablets.online,
            "attention_tablets": [_tablet_row(tablet, now) for tablet in tablets.attention],
            "crm": [
                {
                    "destination": destination,
                    "status": CRM_STATUS_WORDS.get(destination.status, destination.status),
                    "oldest": age(now - destination.oldest_pending_at)
                    if destination.oldest_pending_at
                    else "",
                }
                for destination in crm
            ],
            "forms_published": forms_published,
            "limited_to": [store.location for store in stores] if scope.limited else None,
        },
    )
