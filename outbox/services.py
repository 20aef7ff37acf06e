"""Writing and announcing outbox rows: the part of CRM delivery the sign-up statement uses.

The outbox sits below both apps that use it: signup writes rows with its sign-ups, crm_sync
sends them. It imports neither. It names crm_sync's destination tables in its routing SQL (a
data contract both apps' tests cover) and wakes the sending task by its registered name.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from celery import current_app
from django.conf import settings
from django.db import connection, transaction

from customerinfo.core.redis import redis_client, redis_key
from customerinfo.core.tenancy import current_schema, current_tenant_id

from .models import DeliveryStatus

logger = logging.getLogger(__name__)


#: The task that sends a destination's deliveries (``crm_sync.tasks.deliver``).
DELIVER_TASK = "crm_sync.tasks.deliver"

#: How long "a task is already on its way" stands; after that a sign-up enqueues another, so a
#: lost message delays deliveries by this much at most (the relay covers the rest).
WAKE_SECONDS = 10


def _wake_key(schema_name: str, destination_id: int) -> str:
    return redis_key("crm", "wake", schema_name, destination_id)


def wake_clear(*, destination_id: int) -> None:
    """Called by the task as it starts: sign-ups from now on need a task of their own."""
    schema_name = current_schema()
    redis_client().delete(_wake_key(schema_name, destination_id))


def lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.CRM_DELIVERY_LEASE_SECONDS)


# --- the outbox --------------------------------------------------------------------------------

#: Which enabled destinations take a sign-up of form ``form_id`` at store ``location_id``: those
#: that name no form (or this one) and no store (or this one). Reads the alias ``destination``.
_ROUTE_FILTER = """
    destination.enabled AND (
        NOT EXISTS (SELECT 1 FROM crm_sync_destination_forms AS chosen
                    WHERE chosen.destination_id = destination.id)
        OR EXISTS (SELECT 1 FROM crm_sync_destination_forms AS chosen
                   WHERE chosen.destination_id = destination.id
                       AND chosen.form_id = %(form_id)s)
    ) AND (
        NOT EXISTS (SELECT 1 FROM crm_sync_destination_locations AS chosen
                    WHERE chosen.destination_id = destination.id)
        OR EXISTS (SELECT 1 FROM crm_sync_destination_locations AS chosen
                   WHERE chosen.destination_id = destination.id
                       AND chosen.location_id = %(location_id)s)
    )"""

#: Appended to the sign-up's INSERT statement (signup.services): one delivery per enabled
#: destination whose forms and stores include this sign-up's, in the same statement and so the
#: same transaction. A paused destination's deliveries start held. Its named parameters come
#: from ``outbox_parameters``; it reads the CTE ``new_submission`` of the statement it joins.
OUTBOX_CTE = f"""
new_deliveries AS (
    INSERT INTO public.crm_outbox_delivery (
        tenant_id, destination_id, submission_id, status, attempts, next_attempt_at,
        lease_expires_at, last_error, created_at, updated_at
    )
    SELECT %(tenant_id)s, destination.id, new_submission.id,
        CASE WHEN destination.state = 'paused' THEN 'held' ELSE 'pending' END,
        0, %(now)s::timestamptz, %(lease_until)s::timestamptz, '', %(now)s::timestamptz,
        %(now)s::timestamptz
    FROM new_submission
    JOIN crm_sync_destination AS destination ON {_ROUTE_FILTER}
    RETURNING id, destination_id, status
)"""  # noqa: S608 - constant SQL only; every value is a parameter

#: A sign-up sent again from the start to every destination that takes it, whatever became of
#: its earlier deliveries: a manager released an answer that had been set aside, and the CRM
#: must get the contact with it. CRM writes are upserts, so a contact already delivered is
#: updated, not duplicated. A worker still sending the old row loses it (its lease token is
#: cleared), so its answer cannot mark the requeued delivery as done.
_REQUEUE = f"""
INSERT INTO public.crm_outbox_delivery (
    tenant_id, destination_id, submission_id, status, attempts, next_attempt_at,
    lease_expires_at, last_error, created_at, updated_at
)
SELECT %(tenant_id)s, destination.id, %(submission_id)s::uuid,
    CASE WHEN destination.state = 'paused' THEN 'held' ELSE 'pending' END,
    0, %(now)s::timestamptz, NULL, '', %(now)s::timestamptz, %(now)s::timestamptz
FROM crm_sync_destination AS destination
WHERE {_ROUTE_FILTER}
ON CONFLICT (tenant_id, destination_id, submission_id) DO UPDATE SET
    status = EXCLUDED.status, attempts = 0, next_attempt_at = EXCLUDED.next_attempt_at,
    lease_expires_at = NULL, lease_token = NULL, last_error = '',
    updated_at = EXCLUDED.updated_at, delivered_at = NULL
RETURNING id, destination_id, status
"""  # noqa: S608 - constant SQL only


def deliveries_requeue(
    *, submission_id: UUID, form_id: int, location_id: int, now: datetime
) -> int:
    """Sends one sign-up again to its destinations, after commit; returns how many."""
    tenant_id = current_tenant_id()
    with connection.cursor() as cursor:
        cursor.execute(
            _REQUEUE,
            {
                "tenant_id": tenant_id,
                "submission_id": submission_id,
                "now": now,
                "form_id": form_id,
                "location_id": location_id,
            },
        )
        rows = [tuple(row) for row in cursor.fetchall()]
    deliveries_announce(deliveries=rows)
    return len(rows)


#: Whether the tenant has an enabled destination, as one SQL expression. The sign-up statement
#: returns it, so each process learns it for free from the sign-ups it writes.
ROUTED_SQL = "EXISTS (SELECT 1 FROM crm_sync_destination WHERE enabled)"

#: Per tenant, what this process's last sign-up statement saw of ``ROUTED_SQL``. Only a hint:
#: the statement without ``OUTBOX_CTE`` checks it again in its own snapshot and stores nothing
#: if it has become true, so a stale hint costs one more round trip, never a lost delivery.
_routed: dict[int, bool] = {}


def outbox_expected() -> bool:
    """Whether the next sign-up of this tenant should be written with ``OUTBOX_CTE``; unknown
    tenants are assumed to have destinations."""
    return _routed.get(current_tenant_id(), True)


def outbox_learned(*, routed: bool) -> None:
    _routed[current_tenant_id()] = routed


def outbox_parameters(*, form_id: int, location_id: int, now: datetime) -> dict[str, Any]:
    """The named parameters ``OUTBOX_CTE`` reads, besides the sign-up's own."""
    # The fast path holds a lease on new rows, so the relay leaves them to it unless it is lost.
    return {
        "tenant_id": current_tenant_id(),
        "now": now,
        "lease_until": lease_until(now),
        "form_id": form_id,
        "location_id": location_id,
    }


def deliveries_announce(*, deliveries: Sequence[tuple[int, int, str]]) -> None:
    """After commit, hands the new pending deliveries to a worker: the fast path.

    The rows are already committed, so a failure here (Redis down) loses nothing: the relay
    sends them when their lease runs out. It must never fail the sign-up that was just stored.
    """
    by_destination: dict[int, list[int]] = defaultdict(list)
    for delivery_id, destination_id, status in deliveries:
        if status == DeliveryStatus.PENDING:
            by_destination[destination_id].append(delivery_id)
    if not by_destination:
        return
    schema_name = current_schema()

    def enqueue() -> None:
        for destination_id, ids in by_destination.items():
            try:
                # By name from the Celery app's registry (crm_sync registers it when Django
                # starts): the task object itself, without importing crm_sync, which sits above.
                deliver = current_app.tasks[DELIVER_TASK]
                # One waiting task per destination is enough: it sends everything due when it
                # runs. A busy shop then costs one task per batch, not one per sign-up.
                if not redis_client().set(
                    _wake_key(schema_name, destination_id), 1, nx=True, ex=WAKE_SECONDS
                ):
                    continue
                deliver.delay(schema_name=schema_name, destination_id=destination_id, ids=ids)
            except Exception:
                logger.warning(
                    "fast-path enqueue failed; the relay will send the delivery",
                    exc_info=True,
                    extra={"destination_id": destination_id},
                )

    transaction.on_commit(enqueue)
