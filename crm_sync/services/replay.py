"""Replay: dead and held deliveries back to the outbox, spread out so the CRM is not flooded.

Used by the portal's replay buttons and by a destination's resume (``destinations``).
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customerinfo.core.accounts.models import User
from customerinfo.core.audit import audit_record
from customerinfo.core.errors import ServiceError
from customerinfo.core.models import AuditAction
from customerinfo.core.redis import redis_client, redis_key
from customerinfo.core.tenancy import current_tenant_id
from outbox.models import DeliveryStatus

from .. import limits
from ..models import Destination
from ..providers import provider_class

#: A replay or a resume spreads its deliveries at this share of the provider's rate limit.
REPLAY_SHARE = 0.5
REPLAY_THROTTLE_SECONDS = 30


def deliveries_reschedule(
    *,
    destination: Destination,
    statuses: Sequence[str],
    since: datetime | None = None,
    until: datetime | None = None,
    delivery_id: int | None = None,
) -> int:
    """Back to pending with a fresh schedule, spread out so a big replay does not flood the CRM.

    Returns how many rows. Clearing the lease token also takes the rows from any worker still
    sending them: its answer is no longer written (``sending``).
    """
    rate = provider_class(destination.kind).rate_limit.per_second * REPLAY_SHARE
    spacing_ms = max(1, int(1000 * provider_class(destination.kind).batch_size / rate))
    conditions = ["tenant_id = %s", "destination_id = %s", "status = ANY(%s)"]
    parameters: list[Any] = [
        current_tenant_id(),
        destination.pk,
        list(statuses),
    ]
    if since is not None:
        conditions.append("created_at >= %s")
        parameters.append(since)
    if until is not None:
        conditions.append("created_at < %s")
        parameters.append(until)
    if delivery_id is not None:
        conditions.append("id = %s")
        parameters.append(delivery_id)
    now = timezone.now()
    # One batch's worth of rows shares each slot, so the replay goes at about half the rate
    # the provider allows and new sign-ups still get through beside it.
    statement = f"""
        UPDATE public.crm_outbox_delivery AS delivery
        SET status = 'pending', attempts = 0, lease_expires_at = NULL, lease_token = NULL,
            updated_at = %s,
            next_attempt_at = %s + make_interval(
                secs => ((ordered.position - 1) / %s) * %s / 1000.0)
        FROM (
            SELECT id, row_number() OVER (ORDER BY created_at, id) AS position
            FROM public.crm_outbox_delivery
            WHERE {" AND ".join(conditions)}
        ) AS ordered
        WHERE delivery.id = ordered.id
    """  # noqa: S608 - only fixed condition strings are joined; values are parameters
    batch_size = provider_class(destination.kind).batch_size
    with connection.cursor() as cursor:
        cursor.execute(statement, [now, now, batch_size, spacing_ms, *parameters])
        count: int = cursor.rowcount
    return count


def deliveries_replay(
    *,
    actor: User | None,
    destination: Destination,
    since: datetime | None = None,
    until: datetime | None = None,
    delivery_id: int | None = None,
) -> int:
    """Replays dead and held deliveries (one, or those created in a time range). Throttled."""
    if delivery_id is None:
        scope = limits.destination_scope(
            tenant_id=current_tenant_id(), destination_id=destination.pk
        )
        key = redis_key("crm", "replay", scope)
        if not redis_client().set(key, 1, nx=True, ex=REPLAY_THROTTLE_SECONDS):
            raise ServiceError(
                "replay_throttled",
                _(
                    "A replay of this destination started less than %(seconds)s s ago; wait a "
                    "moment."
                )
                % {"seconds": REPLAY_THROTTLE_SECONDS},
                status_code=429,
            )
    with transaction.atomic():
        count = deliveries_reschedule(
            destination=destination,
            statuses=[DeliveryStatus.DEAD, DeliveryStatus.HELD],
            since=since,
            until=until,
            delivery_id=delivery_id,
        )
        audit_record(
            actor=actor,
            action=AuditAction.DELIVERY_REPLAY,
            target=destination,
            new={
                "count": count,
                "delivery": delivery_id,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
            },
        )
    return count
