"""The relay: every fraction of a second, due rows of every tenant go to the workers.

Celery messages are only hints; the outbox table is the record. The relay hands out each due row
whose lease has run out or that never had one (a new sign-up, a lost message, a flushed Redis, a
worker killed mid-call) with a fresh lease, so it is not handed out again while its task waits
in the queue. Handing out is not taking: the lease token is cleared, so the worker that gets the
task may take the row (``sending``), and a worker whose lease ran out mid-call no longer owns the
row it was sending.

A task carries several destinations' rows, of any tenants: a quiet shop's single sign-up does
not cost a task (and its start-up) of its own, so 200 quiet shops cost the workers about what 10
busy ones do. A busy destination's rows still go out a full batch per task.
"""

from collections import defaultdict
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from customerinfo.core.tenancy import public_schema
from outbox.services import lease_until
from tenants.models import Tenant

#: How many rows the relay hands out per run, and at most per task.
RELAY_BATCH = 2000
RELAY_CHUNK = 100
#: At most this many destinations per task: one task sends them one after the other, so more
#: would hold the last one's sign-ups back by the CRM calls before it.
RELAY_TASK_DESTINATIONS = 6

_RELAY_CLAIM = """
UPDATE public.crm_outbox_delivery AS delivery SET lease_expires_at = %s, lease_token = NULL
FROM (
    SELECT id FROM public.crm_outbox_delivery
    WHERE status = 'pending' AND next_attempt_at <= %s
      AND (lease_expires_at IS NULL OR lease_expires_at <= %s)
    ORDER BY next_attempt_at
    LIMIT %s
    FOR UPDATE SKIP LOCKED
) AS due
WHERE delivery.id = due.id
RETURNING delivery.id, delivery.tenant_id, delivery.destination_id
"""


def _packed(groups: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Groups (one destination's ids each) packed into tasks: up to RELAY_CHUNK rows and
    RELAY_TASK_DESTINATIONS destinations a task, in the order the rows fell due."""
    tasks: list[list[dict[str, Any]]] = []
    rows = 0
    for group in groups:
        full = bool(tasks) and (
            len(tasks[-1]) >= RELAY_TASK_DESTINATIONS or rows + len(group["ids"]) > RELAY_CHUNK
        )
        if not tasks or full:
            tasks.append([])
            rows = 0
        tasks[-1].append(group)
        rows += len(group["ids"])
    return tasks


def deliveries_relay(*, limit: int = RELAY_BATCH) -> int:
    """Claims due rows of every tenant with one query and hands them to workers, several
    destinations a task. A claimed row carries a lease; if its task is lost, the lease runs out
    and a later run hands it out again. Returns how many rows were handed out.
    """
    from ..tasks import deliver_due

    now = timezone.now()
    with public_schema():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_RELAY_CLAIM, [lease_until(now), now, now, limit])
            claimed = cursor.fetchall()
        if not claimed:
            return 0
        by_destination: dict[tuple[int, int], list[int]] = defaultdict(list)
        for delivery_id, tenant_id, destination_id in claimed:
            by_destination[(tenant_id, destination_id)].append(delivery_id)
        schemas = dict(
            Tenant.objects.filter(
                pk__in={tenant_id for tenant_id, _ in by_destination}
            ).values_list("pk", "schema_name")
        )
    groups = [
        {
            "schema_name": schemas[tenant_id],
            "destination_id": destination_id,
            "ids": ids[start : start + RELAY_CHUNK],
        }
        for (tenant_id, destination_id), ids in by_destination.items()
        if tenant_id in schemas
        for start in range(0, len(ids), RELAY_CHUNK)
    ]
    for task in _packed(groups):
        deliver_due.delay(groups=task)
    return len(claimed)
