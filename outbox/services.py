"""Writing, announcing and removing outbox rows: the part of CRM delivery below both apps.

The outbox sits below both apps that use it: signup writes rows with its sign-ups, crm_sync
sends them. It imports neither. It names crm_sync's destination tables in its routing SQL (a
data contract both apps' tests cover) and wakes the sending task by its registered name.

A sign-up's rows need no message: they are written due and without a lease, and the relay
(``crm_sync.tasks.relay``, every ``CRM_RELAY_INTERVAL_SECONDS``) hands out every due row of
every tenant in one query, several destinations to a task. The request therefore makes no call
to Redis for its deliveries: a wake per sign-up cost a quiet shop a task of its own each time.
"""

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from customerinfo.core.caches import BoundedCache
from customerinfo.core.tenancy import current_schema, current_tenant_id

from .models import Delivery, DeliveryStatus

logger = logging.getLogger(__name__)


#: The task that sends a destination's deliveries (``crm_sync.tasks.deliver``).
DELIVER_TASK = "crm_sync.tasks.deliver"


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
#: same transaction. A paused destination's deliveries start held; the others are due at once,
#: with no lease, for the relay's next run. Its named parameters come
#: from ``outbox_parameters``; it reads the CTE ``new_submission`` of the statement it joins.
OUTBOX_CTE = f"""
new_deliveries AS (
    INSERT INTO public.crm_outbox_delivery (
        tenant_id, destination_id, submission_id, status, attempts, next_attempt_at,
        lease_expires_at, last_error, created_at, updated_at
    )
    SELECT %(tenant_id)s, destination.id, new_submission.id,
        CASE WHEN destination.state = 'paused' THEN 'held' ELSE 'pending' END,
        0, %(now)s::timestamptz, NULL, '', %(now)s::timestamptz, %(now)s::timestamptz
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
#: Bounded: a process may see every tenant of the installation over its life.
_routed: BoundedCache[int, bool] = BoundedCache(max_entries=4096)


def outbox_expected() -> bool:
    """Whether the next sign-up of this tenant should be written with ``OUTBOX_CTE``.

    A tenant this process has not met yet gets the guarded statement without it: each variant is
    a prepared statement of its own on every connection that meets the tenant (about 250 kB of
    PostgreSQL memory each, and a planning), and guessing "with" would make every connection
    hold both for each shop without a destination. A shop with one pays a single refused round
    trip per process instead."""
    return bool(_routed.get(current_tenant_id()))


def outbox_learned(*, routed: bool) -> None:
    _routed.set(current_tenant_id(), routed)


def outbox_parameters(*, form_id: int, location_id: int, now: datetime) -> dict[str, Any]:
    """The named parameters ``OUTBOX_CTE`` reads, besides the sign-up's own."""
    return {
        "tenant_id": current_tenant_id(),
        "now": now,
        "form_id": form_id,
        "location_id": location_id,
    }


def deliveries_announce(*, deliveries: Sequence[tuple[int, int, str]]) -> None:
    """After commit, hands these pending deliveries to a worker at once, one task per
    destination: for rows made due outside a sign-up (a requeue, a CRM's backlog released).

    The rows are already committed, so a failure here (Redis down) loses nothing: the relay
    sends them on its next run. It must never fail the change that was just stored.
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
                deliver.delay(schema_name=schema_name, destination_id=destination_id, ids=ids)
            except Exception:
                logger.warning(
                    "enqueue failed; the relay will send the delivery",
                    exc_info=True,
                    extra={"destination_id": destination_id},
                )

    transaction.on_commit(enqueue)


# --- retention --------------------------------------------------------------------------------

#: Rows removed per statement: each batch is a short transaction holding a few thousand row
#: locks, so sending, the relay and sign-ups never wait on the purge for long.
PURGE_BATCH_SIZE = 5000
#: A run stops after this long (the next one continues), well inside Celery's time limit.
PURGE_SECONDS = 120.0

#: One batch of delivered rows past the retention period, oldest first (the partial index
#: ``delivery_purge_idx``), with their attempt log. Rows another transaction holds (a requeue
#: making one pending again) are skipped, never waited for, and re-checked next run.
_PURGE_DELIVERED = """
WITH doomed AS (
    SELECT id FROM public.crm_outbox_delivery
    WHERE status = 'delivered' AND delivered_at < %(cutoff)s
    ORDER BY delivered_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), attempts AS (
    DELETE FROM public.crm_outbox_deliveryattempt WHERE delivery_id IN (SELECT id FROM doomed)
)
DELETE FROM public.crm_outbox_delivery WHERE id IN (SELECT id FROM doomed)
"""

#: For a statement that deletes sign-ups of the current tenant whose ids are in its CTE
#: ``batch`` (signup's retention purge): their deliveries and attempt logs go in the same
#: statement. Reads the named parameter ``outbox_tenant_id``.
OUTBOX_FORGET_CTE = """
outbox_doomed AS (
    SELECT id FROM public.crm_outbox_delivery
    WHERE tenant_id = %(outbox_tenant_id)s AND submission_id IN (SELECT id FROM batch)
), outbox_attempts AS (
    DELETE FROM public.crm_outbox_deliveryattempt
    WHERE delivery_id IN (SELECT id FROM outbox_doomed)
), outbox_deliveries AS (
    DELETE FROM public.crm_outbox_delivery WHERE id IN (SELECT id FROM outbox_doomed)
)"""


def deliveries_purge(
    *,
    now: datetime | None = None,
    batch_size: int = PURGE_BATCH_SIZE,
    seconds: float = PURGE_SECONDS,
) -> int:
    """Deletes delivered rows older than ``OUTBOX_RETENTION_DAYS``, of every tenant (the outbox
    is one table), in batches; returns how many. Pending, held and dead rows are never touched:
    they are work not done yet, or the record of what failed."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.OUTBOX_RETENTION_DAYS)
    deleted = 0
    deadline = time.monotonic() + seconds
    while True:
        # A transaction per batch: locks and WAL stay bounded, and a run stopped half-way keeps
        # what it deleted.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_PURGE_DELIVERED, {"cutoff": cutoff, "limit": batch_size})
            count: int = cursor.rowcount
        deleted += count
        if count < batch_size or time.monotonic() > deadline:
            break
    if deleted:
        logger.info("outbox purged", extra={"deleted": deleted, "before": cutoff.isoformat()})
    return deleted


def deliveries_forget(*, submission_ids: Iterable[UUID]) -> int:
    """Deletes the current tenant's deliveries of these sign-ups, whatever their status, with
    their attempt logs (a shopper erased); returns how many deliveries."""
    deliveries = Delivery.objects.filter(
        tenant_id=current_tenant_id(), submission_id__in=list(submission_ids)
    )
    return int(deliveries.delete()[1].get("crm_outbox.Delivery", 0))
