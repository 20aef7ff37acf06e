"""Reads of retailer notifications: who wants which mail, what needs an alert, the shop's day.

Alerts are checked for every retailer every few minutes, so the check starts with one statement
per 500 schemas (a UNION ALL, as billing counts sign-ups) that returns only what differs from
the episodes already open: a thousand quiet shops cost two round trips, and only a shop where
something changed is visited on its own. CRM destinations are read through their table by
name, as the dashboard does: signup may not import crm_sync, which sits above it.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection
from django.db.models import Q

from customerinfo.core.accounts.models import Role, User

from ..models import (
    AlertEpisode,
    Device,
    Location,
    NotificationPreference,
)

#: Schemas per sweep statement (see the module's docstring).
SCHEMAS_PER_QUERY = 500
#: A tablet silent this long is offline for alerts: longer than the tablets page's 3 minutes,
#: so a tablet restarting or changing network mails nobody.
OFFLINE_AFTER = timedelta(minutes=15)
#: Sign-ups waiting this long on a silent tablet are worth a mail.
UNSENT_FOR = timedelta(hours=1)

#: What a user without a preference row gets: owners the alerts and the digest.
OWNER_DEFAULTS = {"tablet_offline": True, "destination_paused": True, "weekly_digest": True}


def preference_for(user: User) -> NotificationPreference:
    """The user's saved choices, or (unsaved) the defaults of their role."""
    found = NotificationPreference.objects.filter(user=user).first()
    if found is not None:
        return found
    defaults = OWNER_DEFAULTS if user.role == Role.OWNER else {}
    return NotificationPreference(user=user, **defaults)


#: What staff may choose: news of their stores' tablets, and their stores' week. A CRM is every
#: store's, and only owners and managers can act on it.
STAFF_CHOICES = frozenset({"tablet_offline", "weekly_digest"})


def recipients(
    *, choice: str, roles: Collection[str] = (Role.OWNER, Role.MANAGER, Role.STAFF)
) -> list[tuple[User, NotificationPreference]]:
    """Active members of ``roles`` who chose ``choice`` (a boolean field of the preferences),
    with their preferences. Staff only for ``STAFF_CHOICES``; what each is told of is narrowed
    to the stores they see by the sender (``access.store_scopes``)."""
    allowed = [role for role in roles if role != Role.STAFF or choice in STAFF_CHOICES]
    members = list(
        User.objects.filter(is_active=True, invited_at__isnull=True, role__in=allowed).exclude(
            email=""
        )
    )
    saved = {
        preference.user_id: preference
        for preference in NotificationPreference.objects.filter(user__in=members)
    }
    chosen = []
    for member in members:
        preference = saved.get(member.pk)
        if preference is None:
            if member.role == Role.OWNER and OWNER_DEFAULTS.get(choice):
                chosen.append((member, NotificationPreference(user=member, **OWNER_DEFAULTS)))
        elif getattr(preference, choice):
            chosen.append((member, preference))
    return chosen


def export_subscribers(*, schedules: Sequence[str]) -> list[NotificationPreference]:
    return list(
        NotificationPreference.objects.filter(
            export_schedule__in=schedules,
            user__is_active=True,
            user__role__in=[Role.OWNER, Role.MANAGER],
        ).select_related("user")
    )


# --- what needs an alert -------------------------------------------------------------------------


def _offline_tablets(now: datetime) -> Q:
    return Q(
        revoked_at__isnull=True,
        replaced_by__isnull=True,
        queue_depth__gt=0,
        oldest_unsent_at__lt=now - UNSENT_FOR,
    ) & (Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - OFFLINE_AFTER))


def tablets_needing_alert(*, now: datetime) -> list[Device]:
    return list(Device.objects.filter(_offline_tablets(now)).select_related("location"))


_PAUSED_SQL = """
SELECT id, name FROM crm_sync_destination WHERE enabled AND state = 'paused' ORDER BY id
"""


def destinations_paused() -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(_PAUSED_SQL)
        return [(int(row[0]), str(row[1])) for row in cursor.fetchall()]


def episodes_open() -> dict[tuple[str, int], AlertEpisode]:
    return {
        (episode.kind, episode.subject_id): episode
        for episode in AlertEpisode.objects.filter(closed_at__isnull=True)
    }


def _sweep_part(schema: str) -> str:
    """One schema's conditions that disagree with its open episodes: a condition with no open
    episode (to open) or an open episode whose condition is gone (to close)."""
    quoted = connection.ops.quote_name(schema)
    return f"""
(SELECT %s FROM (
    SELECT 'tablet_offline' AS kind, id::bigint AS subject_id FROM {quoted}.signup_device
    WHERE revoked_at IS NULL AND replaced_by_id IS NULL AND queue_depth > 0
      AND oldest_unsent_at < %s AND (last_seen_at IS NULL OR last_seen_at < %s)
    UNION ALL
    SELECT 'destination_paused', id::bigint FROM {quoted}.crm_sync_destination
    WHERE enabled AND state = 'paused'
) AS now_true
FULL JOIN (
    SELECT kind, subject_id FROM {quoted}.signup_alertepisode WHERE closed_at IS NULL
) AS open_episode USING (kind, subject_id)
WHERE now_true.kind IS NULL OR open_episode.kind IS NULL
LIMIT 1)"""  # noqa: S608 - the schema is quoted; every value is a parameter


def schemas_with_alert_changes(*, schemas: Sequence[str], now: datetime) -> list[str]:
    """The schemas among ``schemas`` where an alert must open or close."""
    changed: list[str] = []
    for offset in range(0, len(schemas), SCHEMAS_PER_QUERY):
        batch = schemas[offset : offset + SCHEMAS_PER_QUERY]
        sql = "\nUNION ALL\n".join(_sweep_part(schema) for schema in batch)
        parameters: list[str | datetime] = []
        for schema in batch:
            parameters += [schema, now - UNSENT_FOR, now - OFFLINE_AFTER]
        with connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            changed += [str(row[0]) for row in cursor.fetchall()]
    return changed


# --- the shop's calendar -------------------------------------------------------------------------


def zone_named(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def shop_zone() -> tzinfo:
    """The shop's time zone for its mails: the one its open stores share, else UTC (as the
    sign-up list counts days)."""
    zones = list(
        Location.objects.filter(is_active=True)
        .order_by()
        .values_list("time_zone", flat=True)
        .distinct()[:2]
    )
    return zone_named(zones[0]) if len(zones) == 1 else UTC


def zones_by_schema(*, schemas: Sequence[str]) -> dict[str, tzinfo]:
    """Every schema's shop zone (``shop_zone``), one statement per 500 schemas."""
    found: dict[str, tzinfo] = {}
    for offset in range(0, len(schemas), SCHEMAS_PER_QUERY):
        batch = schemas[offset : offset + SCHEMAS_PER_QUERY]
        sql = "\nUNION ALL\n".join(
            f"SELECT %s, min(time_zone), count(DISTINCT time_zone) "  # noqa: S608
            f"FROM {connection.ops.quote_name(schema)}.signup_location WHERE is_active"
            for schema in batch
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, list(batch))
            for schema, zone, count in cursor.fetchall():
                found[str(schema)] = zone_named(str(zone)) if count == 1 else UTC
    return found


@dataclass(frozen=True)
class Period:
    """Whole days [first, last] of the shop's calendar, and their bounds as instants."""

    first: date
    last: date
    zone: tzinfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), tzinfo=self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time(), self.zone)


def yesterday(*, now: datetime, zone: tzinfo) -> Period:
    day = now.astimezone(zone).date() - timedelta(days=1)
    return Period(day, day, zone)


def last_week(*, now: datetime, zone: tzinfo) -> Period:
    """Monday to Sunday of the week before the shop's current one."""
    today = now.astimezone(zone).date()
    monday = today - timedelta(days=today.weekday() + 7)
    return Period(monday, monday + timedelta(days=6), zone)
