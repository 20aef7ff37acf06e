"""Prometheus figures of the tablets' unsent sign-ups, without visiting any retailer's schema.

A tablet's queue is known from its own heartbeat, stored on its Device in the retailer's schema.
A scrape must not read a thousand schemas, so each heartbeat also writes a one-line summary into
one Redis hash (field ``<tenant id>:<device id>``, value ``<oldest unsent, Unix time> <count>``)
and a tablet with nothing waiting is removed from it. The hash holds only tablets that have
something to send, and /metrics reads it whole: one round trip.

A tablet that went offline stops reporting, and its line stays as last written, so the age of
its oldest sign-up keeps growing in the alert: exactly the case the alert is for.
"""

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import redis
from django.db import transaction
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from customerinfo.core.redis import redis_client, redis_key
from customerinfo.core.tenancy import use_public_schema
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def unsent_key() -> str:
    return redis_key("metrics", "tablets-unsent")


def _field(tenant_id: int, device_id: int) -> str:
    return f"{tenant_id}:{device_id}"


def tablet_unsent_record(
    *, tenant_id: int, device_id: int, waiting: int, oldest_unsent_at: datetime | None
) -> None:
    """After the heartbeat's transaction commits: the tablet's line, or its removal."""
    # A tablet that reports a queue but not its oldest item is counted from now: too young
    # rather than absent.
    oldest = (oldest_unsent_at or timezone.now()).timestamp()

    def write() -> None:
        try:
            if waiting > 0:
                redis_client().hset(
                    unsent_key(), _field(tenant_id, device_id), f"{oldest!r} {waiting}"
                )
            else:
                redis_client().hdel(unsent_key(), _field(tenant_id, device_id))
        except redis.RedisError as error:
            # The tablet's report is stored; the summary catches up with its next heartbeat.
            logger.warning("tablet summary not recorded", extra={"error": str(error)})

    transaction.on_commit(write)


def tablets_unsent_forget(*, tenant_id: int, device_ids: Iterable[int]) -> None:
    """Tablets whose queue another pairing took over: nothing waits on them any more."""
    fields = [_field(tenant_id, device_id) for device_id in device_ids]
    if not fields:
        return

    def forget() -> None:
        try:
            redis_client().hdel(unsent_key(), *fields)
        except redis.RedisError as error:
            logger.warning("tablet summary not cleared", extra={"error": str(error)})

    transaction.on_commit(forget)


class TabletQueueCollector(Collector):
    """Per retailer: tablets with unsent sign-ups, how many, and the oldest one's time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            lines: Any = redis_client().hgetall(unsent_key())
        except redis.RedisError as error:
            logger.warning("metrics: Redis unreachable", extra={"error": str(error)})
            return
        oldest: dict[int, float] = {}
        tablets: dict[int, int] = {}
        signups: dict[int, int] = {}
        for field, value in lines.items():
            tenant_id = int(field.split(b":", 1)[0])
            moment, count = value.split()
            oldest[tenant_id] = min(float(moment), oldest.get(tenant_id, float("inf")))
            tablets[tenant_id] = tablets.get(tenant_id, 0) + 1
            signups[tenant_id] = signups.get(tenant_id, 0) + int(count)
        use_public_schema()
        # A deleted retailer's lines are skipped (and age out of nothing: they are simply gone
        # from the figures).
        slugs = dict(Tenant.objects.filter(pk__in=list(oldest)).values_list("pk", "slug"))
        families = {
            "tablets": GaugeMetricFamily(
                "customerinfo_tablets_with_unsent_signups",
                "Tablets whose last report said sign-ups were waiting to be sent.",
                labels=["tenant"],
            ),
            "signups": GaugeMetricFamily(
                "customerinfo_tablet_unsent_signups",
                "Sign-ups waiting on the retailer's tablets, as they last reported.",
                labels=["tenant"],
            ),
            "oldest": GaugeMetricFamily(
                "customerinfo_tablet_oldest_unsent_timestamp_seconds",
                "When the oldest sign-up still waiting on one of the retailer's tablets was taken.",
                labels=["tenant"],
            ),
        }
        for tenant_id, slug in sorted(slugs.items(), key=lambda item: item[1]):
            families["tablets"].add_metric([slug], tablets[tenant_id])
            families["signups"].add_metric([slug], signups[tenant_id])
            families["oldest"].add_metric([slug], oldest[tenant_id])
        yield from families.values()
