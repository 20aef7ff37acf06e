"""/metrics at 1,000 retailers: a scrape costs the same as at one.

In one run:

1. recreates the scratch database ``customerinfo_bench_metrics`` and migrates its public schema
   (the figures read nothing else), with one retailer;
2. times, inside this process through Django's test client (server side: middleware, queries,
   Redis; no network), the median of BENCH_RUNS (default 7) scrapes of ``/metrics`` on the
   pod's address, and counts their SQL queries and Redis commands;
3. adds BENCH_TENANTS (default 1,000) retailers, each with three tablets holding unsent sign-ups
   (the Redis summary their heartbeats write), a billing account with two years of month-end
   closes (one in ten failed), and two years of nightly backups and checks;
4. records the close summary as the close job does (timed), then times the scrapes again;
5. drops the database and this run's Redis keys, and prints as its last line::

    tenants=… scrape_ms_1=… scrape_ms_many=… queries_1=… queries_many=… \
redis_commands_1=… redis_commands_many=… close_summary_ms=… series_many=…

Run with ``uv run python bench/metrics.py`` (PostgreSQL on 127.0.0.1:5432 as ``postgres``,
Redis on 127.0.0.1:6379; DATABASE_URL and REDIS_URL name other servers).
"""

import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import support  # noqa: E402 - needs ROOT on the path, just above

DATABASE = "customerinfo_bench_metrics"
TENANTS = int(os.environ.get("BENCH_TENANTS", "1000"))
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
TABLETS = 3
MONTHS = 24


class RedisCounter:
    """Counts the Redis commands the scrape sends (pipelines count their commands)."""

    def __init__(self) -> None:
        self.commands = 0

    def __enter__(self) -> "RedisCounter":
        import redis

        self.originals: tuple[Any, Any] = (
            redis.Redis.execute_command,
            redis.client.Pipeline.execute,
        )
        counter = self
        original_command: Any = self.originals[0]
        original_pipeline: Any = self.originals[1]

        def command(client: Any, *args: Any, **options: Any) -> Any:
            counter.commands += 1
            return original_command(client, *args, **options)

        def pipeline(client: Any, *args: Any, **options: Any) -> Any:
            counter.commands += len(client.command_stack)
            return original_pipeline(client, *args, **options)

        # setattr: the type checker refuses a plain assignment of another signature.
        setattr(redis.Redis, "execute_command", command)  # noqa: B010
        setattr(redis.client.Pipeline, "execute", pipeline)  # noqa: B010
        return self

    def __exit__(self, *exc: object) -> None:
        import redis

        setattr(redis.Redis, "execute_command", self.originals[0])  # noqa: B010
        setattr(redis.client.Pipeline, "execute", self.originals[1])  # noqa: B010


def scrape() -> tuple[float, int, int, int]:
    """(median ms, SQL queries, Redis commands, series) of a scrape, after one to warm up."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="10.0.0.7:8000")
    durations = support.get_timings(client, "/metrics", runs=RUNS)
    with CaptureQueriesContext(connection) as queries, RedisCounter() as redis_commands:
        body = client.get("/metrics").content.decode()
    series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
    return statistics.median(durations), len(queries), redis_commands.commands, series


def populate(first: int, count: int) -> None:
    """``count`` retailers, numbered from ``first``, with tablets and closes; two years of
    backups when ``first`` is 0."""
    from django.db import transaction

    from billing.models import BillingAccount, CloseState, PeriodClose
    from operations.models import BackupJob, JobKind, JobStatus
    from signup.metrics import tablet_unsent_record
    from tenants.models import Tenant, TenantStatus

    now = datetime.now(UTC)
    tenants = Tenant.objects.bulk_create(
        Tenant(
            name=f"Shop {index}",
            slug=f"shop-{index}",
            schema_name=f"t_shop_{index}",
            status=TenantStatus.ACTIVE,
            ready=True,
            owner_email=f"owner@shop-{index}.example",
        )
        for index in range(first, first + count)
    )
    accounts = BillingAccount.objects.bulk_create(
        BillingAccount(tenant=tenant, stripe_customer_id=f"cus_{tenant.slug}") for tenant in tenants
    )
    closes = []
    for number, account in enumerate(accounts):
        for month in range(MONTHS):
            start = now - timedelta(days=31 * (MONTHS - month))
            failed = (number + month) % 10 == 0
            closes.append(
                PeriodClose(
                    account=account,
                    period_start=start,
                    period_end=start + timedelta(days=31),
                    state=CloseState.FAILED if failed else CloseState.RECONCILED,
                    closed_at=None if failed else start + timedelta(days=31, minutes=20),
                )
            )
    PeriodClose.objects.bulk_create(closes, batch_size=5000)
    if first == 0:
        BackupJob.objects.bulk_create(
            BackupJob(
                kind=kind,
                status=JobStatus.SUCCEEDED,
                started_at=now - timedelta(days=day, hours=2),
                finished_at=now - timedelta(days=day, hours=1),
            )
            for day in range(730)
            for kind in (JobKind.BACKUP, JobKind.VERIFY)
        )
    with transaction.atomic():
        for tenant in tenants:
            for device in range(TABLETS):
                tablet_unsent_record(
                    tenant_id=tenant.pk,
                    device_id=device + 1,
                    waiting=device + 1,
                    oldest_unsent_at=now - timedelta(minutes=10 * (device + 1)),
                )


def main() -> int:
    prefix = f"bench-metrics-{os.getpid()}"
    with support.scratch_database(DATABASE) as database:
        support.django_setup(
            support.project_environment(
                database,
                support.redis_url(),
                # This run's keys only: the Redis may be shared, and nothing here empties it.
                CACHE_KEY_PREFIX=prefix,
                DEBUG="false",
                METRICS_TOKEN="",
            )
        )
        from django.core.management import call_command

        from billing.metrics import closes_summary_record
        from customerinfo.core.redis import redis_client

        try:
            call_command("migrate_schemas", shared=True, verbosity=0)
            populate(0, 1)
            closes_summary_record()
            ms_one, queries_one, redis_one, _ = scrape()
            populate(1, TENANTS - 1)
            started = time.perf_counter()
            closes_summary_record()
            summary_ms = (time.perf_counter() - started) * 1000
            ms_many, queries_many, redis_many, series = scrape()
            print(
                f"tenants={TENANTS} scrape_ms_1={ms_one:.1f} scrape_ms_many={ms_many:.1f} "
                f"queries_1={queries_one} queries_many={queries_many} "
                f"redis_commands_1={redis_one} redis_commands_many={redis_many} "
                f"close_summary_ms={summary_ms:.1f} series_many={series}",
                flush=True,
            )
        finally:
            client = redis_client()
            for key in client.scan_iter(f"{prefix}:*"):
                client.delete(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
