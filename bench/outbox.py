"""The outbox at a long history: /metrics, the destination page and the retention purge.

In one run:

1. recreates the scratch database ``customerinfo_bench_outbox``, migrates it and makes one
   tenant with a webhook destination (never called: nothing is sent here);
2. times, inside this process through Django's test client (server side: routing, middleware,
   queries and template; no network), the median of BENCH_RUNS (default 7) requests of
   ``/metrics`` (as Prometheus scrapes it, on the pod's address) and of the destination's page
   (as its owner), with an empty outbox;
3. fills the outbox with BENCH_DELIVERED (default 1,000,000) delivered rows of that destination,
   each with its attempt, spread over the last 60 days, plus 200 pending, 50 held and 50 dead
   ones, in ``INSERT … SELECT`` over ``generate_series``; the destination's tally says what the
   deliveries would have added to it; then VACUUM ANALYZE as autovacuum would;
4. times the same two pages again;
5. runs the retention purge (``outbox.services.deliveries_purge``, OUTBOX_RETENTION_DAYS 30:
   half the rows are older) and times it, then checks what is left;
6. drops the database, and prints as its last line::

    metrics_ms_empty=… metrics_ms_1m=… destination_page_ms_empty=… destination_page_ms_1m=… \
purge_rows_per_s=…

Run with ``uv run python bench/outbox.py`` (PostgreSQL on 127.0.0.1:5432 as ``postgres``, Redis
on 127.0.0.1:6379; DATABASE_URL and REDIS_URL name other servers, BENCH_REDIS_DB another Redis
database than 9, which the run empties).
"""

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import support  # noqa: E402 - needs ROOT on the path, just above

DATABASE = "customerinfo_bench_outbox"
DELIVERED = int(os.environ.get("BENCH_DELIVERED", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
SLUG = "history"
RETENTION_DAYS = 30
SPREAD_DAYS = 60


def setup() -> tuple[Any, int]:
    """The tenant and its destination's id."""
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from crm_sync.services import destination_create

    call_command("migrate_tenants", verbosity=0)
    tenant = support.shop_create(name="Long history", slug=SLUG)
    with tenant_context(tenant):
        destination = destination_create(
            actor=None,
            name="Webhook",
            kind="webhook",
            settings={"url": "https://crm.example/hook"},
            credentials={"secret": "whsec_" + "a" * 40},
        )
    return tenant, destination.pk


#: Delivered rows over the last SPREAD_DAYS, newest last; one attempt each. Then a few rows of
#: each other status, which the counts must still see.
_FILL = """
INSERT INTO public.crm_outbox_delivery (
    tenant_id, destination_id, submission_id, status, attempts, next_attempt_at,
    last_error, created_at, updated_at, delivered_at
)
SELECT %(tenant)s, %(destination)s, gen_random_uuid(), 'delivered', 1, moment, '', moment,
    moment + interval '1 second', moment + interval '1 second'
FROM (
    SELECT now() - (%(days)s * interval '1 day') * (1 - n::float / %(count)s) AS moment
    FROM generate_series(1, %(count)s) AS n
) AS series;
INSERT INTO public.crm_outbox_deliveryattempt (
    delivery_id, number, started_at, duration_ms, outcome, error
)
SELECT id, 1, created_at, 20, 'delivered', '' FROM public.crm_outbox_delivery;
INSERT INTO public.crm_outbox_delivery (
    tenant_id, destination_id, submission_id, status, attempts, next_attempt_at,
    last_error, created_at, updated_at
)
SELECT %(tenant)s, %(destination)s, gen_random_uuid(), status, 0, now(), '', now(), now()
FROM (SELECT 'pending' AS status FROM generate_series(1, 200)
      UNION ALL SELECT 'held' FROM generate_series(1, 50)
      UNION ALL SELECT 'dead' FROM generate_series(1, 50)) AS others;
INSERT INTO public.crm_outbox_deliverytally (tenant_id, destination_id, delivered)
VALUES (%(tenant)s, %(destination)s, %(count)s);
"""


def fill(tenant: Any, destination_id: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in filter(str.strip, _FILL.split(";")):
            cursor.execute(
                statement,
                {
                    "tenant": tenant.pk,
                    "destination": destination_id,
                    "count": DELIVERED,
                    "days": SPREAD_DAYS,
                },
            )
        cursor.execute("VACUUM ANALYZE public.crm_outbox_delivery")
        cursor.execute("VACUUM ANALYZE public.crm_outbox_deliveryattempt")


#: The fastest run of each measurement, printed beside the medians: on a machine shared with
#: other work the median carries its waits, the fastest run is closer to what the page costs.
FASTEST: list[float] = []


def timed(client: Any, path: str) -> float:
    """Median milliseconds of RUNS requests, after one to warm caches and connections."""
    durations = support.get_timings(client, path, runs=RUNS)
    FASTEST.append(min(durations))
    return statistics.median(durations)


def measure(tenant: Any, destination_id: int) -> tuple[float, float]:
    """(/metrics, the destination page), median milliseconds."""
    from django.test import Client

    scrape = Client(HTTP_HOST="10.0.0.7")
    return timed(scrape, "/metrics"), timed(support.owner_client(tenant), f"/crm/{destination_id}/")


def purge() -> tuple[int, float]:
    """(rows deleted, seconds)."""
    from outbox.services import deliveries_purge

    started = time.perf_counter()
    deleted = deliveries_purge()
    return deleted, time.perf_counter() - started


def main() -> int:
    # Its own Redis database (BENCH_REDIS_DB, default 9), flushed at the start.
    redis = support.redis_url(os.environ.get("BENCH_REDIS_DB", "9"))
    with support.scratch_database(DATABASE) as database:
        support.django_setup(
            support.project_environment(
                database,
                redis,
                # As in production: DEBUG would keep every query of the run in memory and slow
                # pages.
                DEBUG="false",
                OUTBOX_RETENTION_DAYS=str(RETENTION_DAYS),
                METRICS_TOKEN="",
            )
        )
        support.redis_flush(redis)
        tenant, destination_id = setup()
        metrics_empty, page_empty = measure(tenant, destination_id)
        started = time.perf_counter()
        fill(tenant, destination_id)
        print(f"filled {DELIVERED} delivered rows in {time.perf_counter() - started:.0f} s")
        metrics_full, page_full = measure(tenant, destination_id)
        deleted, seconds = purge()
        from django.db.models import Count

        from outbox.models import Delivery

        left = dict(Delivery.objects.values_list("status").annotate(Count("pk")).order_by())
        print(
            f"purge: {deleted} rows in {seconds:.1f} s; left by status {left}; "
            f"metrics {metrics_empty:.1f} -> {metrics_full:.1f} ms "
            f"(x{metrics_full / metrics_empty:.2f}), page {page_empty:.1f} -> {page_full:.1f} ms "
            f"(x{page_full / page_empty:.2f}); fastest runs (metrics, page; empty then full): "
            + " ".join(f"{ms:.1f}" for ms in FASTEST),
            flush=True,
        )
        print(
            f"metrics_ms_empty={metrics_empty:.1f} metrics_ms_1m={metrics_full:.1f} "
            f"destination_page_ms_empty={page_empty:.1f} destination_page_ms_1m={page_full:.1f} "
            f"purge_rows_per_s={deleted / max(seconds, 1e-3):.0f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
