"""The relay: every few seconds, due rows of every tenant go to the workers.

Celery messages are only hints; the outbox table is the record. The relay hands out each due row
whose lease has run out (a lost message, a flushed Redis, a worker killed mid-call) with a fresh
lease, so it is not handed out again while its task waits in the queue. Handing out is not
taking: the lease token is cleared, so the worker that gets the task may take the row
(``sending``), and a worker whose lease ran out mid-call no longer owns the row it was sending.
"""

from collections import defaultdict

from django.db import connection, transaction
from django.utils import timezone

from customerinfo.core.tenancy import public_schema
from outbox.services import lease_until
from tenants.models import Tenant

#: How many rows the relay hands out per run, and per task.
RELAY_BATCH = 2000
RELAY_CHUNK = 100

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


def deliveries_relay(*, limit: int = RELAY_BATCH) -> int:
    """Claims due rows of every tenant with one query and hands them to workers by destination.

    A claimed row carries a lease; if its task is lost, the lease runs out and the next run
    hands it out again. Returns how many rows were handed out.
    """
    from ..tasks import deliver

    now = timezone.now()
    with public_schema():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_RELAY_CLAIM, [lease_until(now), now, now, limit])
            claimed = cursor.fetchall()
        if not claimed:
            return 0
        groups: dict[tuple[int, int], list[int]] = defaultdict(list)
        for delivery_id, tenant_id, destination_id in claimed:
            groups[(tenant_id, destination_id)].append(delivery_id)
        schemas = dict(
            Tenant.objects.filter(pk__in={tenant_id for tenant_id, _ in groups}).values_list(
                "pk", "schema_name"
            )
        )
    for (tenant_id, destination_id), ids in groups.items():
        for start in range(0, len(ids), RELAY_CHUNK):
            deliver.delay(
                schema_name=schemas[tenant_id],
                destination_id=destination_id,
                ids=ids[start : start + RELAY_CHUNK],
            )
    return len(claimed)
