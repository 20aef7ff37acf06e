"""Reads of the portal's dashboard: sign-ups per day and per store, tablets needing attention,
CRM health.

Nothing here reads the sign-ups themselves: the daily counts are SignupDay rows, kept by
triggers (migration 0008), so the page costs the same at 200 or 2,000,000 sign-ups. A store's
"today" is its own calendar day; the chart sums each store's days by date.

CRM health reads the outbox (below signup) and names the destinations through their table, as
the outbox's routing SQL does: signup may not import crm_sync, which sits above it.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection
from django.db.models import Sum

from customerinfo.core.tenancy import current_tenant_id
from outbox.models import Delivery, DeliveryStatus

from ..models import Device, Form, Location, SignupDay
from .access import StoreScope

#: The chart's two spans; anything else asked for is the first.
SPANS = (30, 90)
#: A tablet that sent a heartbeat this recently counts as online (as on the tablets page).
ONLINE_WITHIN = timedelta(minutes=3)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class DayCount:
    day: date
    signups: int
    email_opt_ins: int
    sms_opt_ins: int


def days_series(*, last_day: date, span: int, scope: StoreScope) -> list[DayCount]:
    """Every day of the ``span`` days ending ``last_day``, zero-filled, summed over the stores
    of ``scope``."""
    first_day = last_day - timedelta(days=span - 1)
    rows = {
        row["day"]: row
        for row in scope.narrow(SignupDay.objects.filter(day__gte=first_day, day__lte=last_day))
        .values("day")
        .annotate(total=Sum("signups"), email=Sum("email_opt_ins"), sms=Sum("sms_opt_ins"))
        .order_by()
    }
    series = []
    for offset in range(span):
        day = first_day + timedelta(days=offset)
        row = rows.get(day)
        series.append(
            DayCount(day, row["total"], row["email"], row["sms"]) if row else DayCount(day, 0, 0, 0)
        )
    return series


@dataclass
class StoreFigures:
    location: Location
    today: int = 0
    week: int = 0
    month: int = 0
    email_opt_ins: int = 0
    sms_opt_ins: int = 0

    @property
    def email_rate(self) -> float | None:
        """Share of the last 30 days' sign-ups who opted in to email; None without sign-ups."""
        return self.email_opt_ins / self.month if self.month else None

    @property
    def sms_rate(self) -> float | None:
        return self.sms_opt_ins / self.month if self.month else None


def stores_figures(*, now: datetime, scope: StoreScope) -> list[StoreFigures]:
    """Per store of ``scope``, in its own calendar: sign-ups today, in 7 and 30 days (today
    included), and the 30 days' opt-ins. One read of at most 31 rows per store."""
    locations = list(scope.stores().order_by("name", "pk"))
    today = {
        location.pk: now.astimezone(_zone(location.time_zone)).date() for location in locations
    }
    figures = {location.pk: StoreFigures(location) for location in locations}
    if not locations:
        return []
    earliest = min(today.values()) - timedelta(days=29)
    rows = (
        scope.narrow(SignupDay.objects.filter(day__gte=earliest))
        .values_list("location_id", "day")
        .annotate(Sum("signups"), Sum("email_opt_ins"), Sum("sms_opt_ins"))
        .order_by()
    )
    for location_id, day, signups, email, sms in rows:
        store = figures.get(location_id)
        if store is None:
            continue
        age = (today[location_id] - day).days
        if age < 0 or age >= 30:  # a tablet's clock ahead, or before the store's 30 days
            continue
        store.month += signups
        store.email_opt_ins += email
        store.sms_opt_ins += sms
        if age < 7:
            store.week += signups
        if age == 0:
            store.today += signups
    return [figures[location.pk] for location in locations]


@dataclass(frozen=True)
class TabletAttention:
    device: Device
    offline: bool
    never_seen: bool
    unsent: int
    held: int


@dataclass(frozen=True)
class TabletsOverview:
    paired: int
    online: int
    #: Paired tablets that are offline, or hold sign-ups not yet sent or refused ("held").
    attention: list[TabletAttention]


def tablets_overview(*, now: datetime, scope: StoreScope) -> TabletsOverview:
    """Every paired tablet of ``scope`` read once (a shop has tens): how many are online, and
    which need someone."""
    devices = (
        scope.narrow(Device.objects.filter(revoked_at__isnull=True))
        .select_related("location")
        .order_by("location__name", "name", "pk")
    )
    online = 0
    attention = []
    for device in devices:
        offline = device.last_seen_at is None or now - device.last_seen_at > ONLINE_WITHIN
        online += not offline
        if offline or device.queue_depth or device.held_count:
            attention.append(
                TabletAttention(
                    device=device,
                    offline=offline,
                    never_seen=device.last_seen_at is None,
                    unsent=device.queue_depth,
                    held=device.held_count,
                )
            )
    return TabletsOverview(paired=len(devices), online=online, attention=attention)


def chart_zone(locations: Iterable[Location]) -> ZoneInfo:
    """The zone the chart's "today" is in: the one all stores share, else UTC (as the sign-up
    list's filters count days)."""
    zones = {location.time_zone for location in locations}
    return _zone(zones.pop()) if len(zones) == 1 else ZoneInfo("UTC")


def forms_published_count() -> int:
    return Form.objects.filter(current_version__isnull=False).count()


# --- CRM health --------------------------------------------------------------------------------


@dataclass
class DestinationHealth:
    id: int
    name: str
    kind: str
    enabled: bool
    paused: bool
    paused_reason: str
    pending: int = 0
    held: int = 0
    dead: int = 0
    oldest_pending_at: datetime | None = None

    @property
    def status(self) -> str:
        """One word for the glance: off, paused, failing (dead deliveries), late, ok."""
        if not self.enabled:
            return "off"
        if self.paused:
            return "paused"
        if self.dead:
            return "failing"
        if self.pending:
            return "sending"
        return "ok"


#: Every destination (crm_sync's table, read by name: see the module's docstring) with its
#: undelivered deliveries by status, in one round trip. Only undelivered rows are read: the
#: delivered ones are the many, and the outbox's index (tenant, destination, status,
#: created_at) reaches just the few others.
_HEALTH_SQL = """
SELECT destination.id, destination.name, destination.kind, destination.enabled,
    destination.state = 'paused', destination.paused_reason,
    coalesce(waiting.pending, 0), coalesce(waiting.held, 0), coalesce(waiting.dead, 0),
    waiting.oldest
FROM crm_sync_destination AS destination
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE delivery.status = %(pending)s) AS pending,
        count(*) FILTER (WHERE delivery.status = %(held)s) AS held,
        count(*) FILTER (WHERE delivery.status = %(dead)s) AS dead,
        min(delivery.created_at) FILTER (WHERE delivery.status = %(pending)s) AS oldest
    FROM {deliveries} AS delivery
    WHERE delivery.tenant_id = %(tenant_id)s AND delivery.destination_id = destination.id
        AND delivery.status IN (%(pending)s, %(held)s, %(dead)s)
) AS waiting ON true
ORDER BY destination.name, destination.id
"""


def crm_health() -> list[DestinationHealth]:
    """Every CRM destination of this retailer with its undelivered deliveries by status."""
    sql = _HEALTH_SQL.format(deliveries=connection.ops.quote_name(Delivery._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "tenant_id": current_tenant_id(),
                "pending": DeliveryStatus.PENDING.value,
                "held": DeliveryStatus.HELD.value,
                "dead": DeliveryStatus.DEAD.value,
            },
        )
        rows = cursor.fetchall()
    return [
        DestinationHealth(
            id=row[0],
            name=row[1],
            kind=row[2],
            enabled=row[3],
            paused=row[4],
            paused_reason=row[5],
            pending=row[6],
            held=row[7],
            dead=row[8],
            oldest_pending_at=row[9],
        )
        for row in rows
    ]
