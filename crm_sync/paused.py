"""Which CRM destinations are paused, readable by /metrics without visiting any schema.

A destination's state lives in its retailer's schema, which a scrape must not visit a
thousand times; its held deliveries in the outbox say nothing of a destination paused with
nothing waiting. So a pause writes one field of a Redis hash (``<tenant id>:<destination
id>`` -> the pause's Unix time) after its transaction commits, and a resume removes it:
/metrics reads the hash whole, in one round trip.
"""

import logging
from datetime import datetime

import redis
from django.db import transaction

from customerinfo.core.redis import redis_client, redis_key

logger = logging.getLogger(__name__)


def paused_key() -> str:
    return redis_key("metrics", "crm-paused")


def destination_paused_record(
    *, tenant_id: int, destination_id: int, paused_at: datetime | None
) -> None:
    """After the transaction commits: the destination's line (paused) or its removal."""
    field = f"{tenant_id}:{destination_id}"

    def write() -> None:
        try:
            if paused_at is None:
                redis_client().hdel(paused_key(), field)
            else:
                redis_client().hset(paused_key(), field, repr(paused_at.timestamp()))
        except redis.RedisError as error:
            # The pause itself is stored and shown in the portal; only the alert misses it.
            logger.warning("paused destination not recorded", extra={"error": str(error)})

    transaction.on_commit(write)


def paused_read() -> dict[tuple[int, int], float]:
    found: dict[tuple[int, int], float] = {}
    # The synchronous client's answer (redis-py types it as maybe awaitable).
    lines: dict[bytes, bytes] = redis_client().hgetall(paused_key())  # type: ignore[assignment]
    for field, value in lines.items():
        tenant_id, _, destination_id = field.decode().partition(":")
        found[(int(tenant_id), int(destination_id))] = float(value)
    return found
