"""Billing at 10,000 retailers: the last hour's usage report, then the month-end close.

In one run:

1. recreates the scratch database ``customerinfo_bench_billing`` and migrates it (the public
   schema and the tenant template, ``manage.py migrate_tenants``);
2. starts the fake Stripe in this process (``billing.stripe_fake``, answering at once), points
   the product at it (``STRIPE_API_BASE``) and syncs the catalog;
3. makes BENCH_TENANTS retailers (default 10,000) in bulk, as a month of sign-ups and hourly
   usage jobs leaves them at the top of an hour P1, when their billing periods roll over:

   - a tenant row, a billing account (active, its new period starting at P1), and the open
     ``PeriodClose`` of the month that ended, [P1 - 30 days, P1), as ``account_sync`` opens it;
   - a schema holding the sign-up table, made LIKE the template's (its columns, indexes and
     checks; not its foreign keys): the one table of a tenant's schema that the usage job
     reads. Full clones of the template cost ~0.2 s each (tests/billing/test_month.py makes 50);
     10,000 of them would make this bench a half-hour one. The catalog then holds ~10
     relations per schema, not ~150: the statements' planning (a lookup per table) is a little
     cheaper here than in production;
   - the month's ledger: a sent ``UsageReport`` for BENCH_HOURS_A_DAY hours (default 8) of each
     day, and in the fake the same usage as one meter event per retailer and day, the day's sum
     (a summary only sums; millions of hourly events would only cost the fake memory);
   - the sign-ups received in the month's last hour (one to three per retailer), not counted
     yet, and those of the day before, counted already (behind the watermark);
4. ``usage_hour``: the hourly job's usage part at P1 + 5 min, ``usage_count`` then
   ``usage_send``: the month's last hour counted in every schema, one meter event per retailer;
5. ``close``: ``periods_close`` at P1 + 10 min, every retailer's close, reconciled against
   Stripe's meter summary; ``close_rerun``: the same call again, which must send nothing to
   Stripe (the fake's request log) and write nothing;
6. checks every close reconciled exactly (ours == Stripe's == the ledger's month), drops the
   database, and prints, last::

    tenants=10000 usage_hour_s=109.0 close_s=102.0 close_rerun_s=0.003 our_ms_per_tenant=1.50

Pacing: the services send Stripe at most STRIPE_MAX_REQUESTS_PER_SECOND requests a second
(settings, 100 by default; BENCH_RATE sets it for this run, 0 for no pacing), so at 10,000
retailers ``usage_hour`` and ``close`` each take 100 s at least. The line before the last gives
each one's requests, the rate achieved, and the rate it would reach unpaced.

``our_ms_per_tenant``: the close's wall time, less the time the fake spent serving its requests
(timed around the fake's HTTP handler, in its own thread: the request line and headers it read
before that count as ours), less the time the pace slept, per retailer: our code, the Stripe SDK
and PostgreSQL.

Run with ``uv run python bench/billing.py`` (PostgreSQL on 127.0.0.1:5432 as ``postgres``;
DATABASE_URL names another server). BENCH_TENANTS=1000 BENCH_RATE=0 makes a quick run;
BENCH_PROFILE=path writes the close's cProfile statistics there (its timings then include the
profiler's overhead).
"""

import cProfile
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # before bench/, whose billing.py is this file, not the app

from bench import support  # noqa: E402 - needs ROOT on the path, just above
from bench.billing_setup import (  # noqa: E402
    DATABASE,
    DAYS,
    PROFILE,
    RATE,
    TENANTS,
    Stopwatch,
    fake_start,
    ledger_make,
    ledger_state,
    pace_timed,
    retailers_make,
    schemas_make,
)

T = TypeVar("T")


def check(period_end: datetime) -> None:
    from django.db.models import OuterRef, Subquery, Sum

    from billing.models import CloseState, PeriodClose, UsageReport
    from tenants.models import Tenant

    last_hour = period_end - timedelta(hours=1)
    hour_rows = UsageReport.objects.filter(hour=last_hour)
    assert hour_rows.count() == TENANTS, hour_rows.count()
    received = sum(1 + pk % 3 for pk in Tenant.objects.values_list("pk", flat=True))
    assert hour_rows.aggregate(total=Sum("signups"))["total"] == received
    assert not UsageReport.objects.filter(sent_at__isnull=True).exists()
    month = (
        UsageReport.objects.filter(
            account=OuterRef("account"),
            hour__gte=period_end - timedelta(days=DAYS),
            hour__lt=period_end,
        )
        .values("account")
        .annotate(total=Sum("signups"))
        .values("total")
    )
    closes = PeriodClose.objects.annotate(ledger=Subquery(month))
    wrong = [
        (close.pk, close.state, close.ours, close.stripes, close.ledger)
        for close in closes
        if close.state != CloseState.RECONCILED or not close.ours == close.stripes == close.ledger
    ]
    assert not wrong, wrong[:5]


def profiled(step: Callable[[], T]) -> T:
    """``step``, under cProfile when BENCH_PROFILE names a file for its statistics."""
    if not PROFILE:
        return step()
    profile = cProfile.Profile()
    try:
        return profile.runcall(step)
    finally:
        profile.dump_stats(PROFILE)


@dataclass(frozen=True)
class Figures:
    wall: float
    fake: float
    paced: float
    requests: int

    def line(self, name: str) -> str:
        unpaced = self.requests / max(self.wall - self.paced, 1e-9)
        return (
            f"{name}_requests={self.requests} {name}_rate_per_s={self.requests / self.wall:.1f} "
            f"{name}_unpaced_rate_per_s={unpaced:.1f} {name}_fake_s={self.fake:.1f} "
            f"{name}_paced_s={self.paced:.1f}"
        )


@dataclass(frozen=True)
class Bench:
    fake: Any
    fake_time: Stopwatch
    pace_time: Stopwatch
    period_end: datetime

    def run(self, step: Callable[[], object]) -> Figures:
        """Times ``step``: wall seconds, the fake's and the pace's, and the requests sent."""
        before = (self.fake_time.seconds, self.pace_time.seconds, len(self.fake.requests))
        begun = time.perf_counter()
        step()
        return Figures(
            time.perf_counter() - begun,
            self.fake_time.seconds - before[0],
            self.pace_time.seconds - before[1],
            len(self.fake.requests) - before[2],
        )


def setup(environment: dict[str, str]) -> Bench:
    """The migrated database, the fake, Django pointed at both, and the month behind."""
    started = time.perf_counter()
    support.manage(environment, "migrate_tenants")
    fake, fake_time = fake_start()
    environment["STRIPE_API_BASE"] = fake.url
    support.django_setup(environment)
    from django.conf import settings

    from billing import services

    pace_time = pace_timed()
    services.catalog_sync()
    period_end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    tenants = retailers_make(fake, period_end)
    ledger_make(fake, period_end)
    schemas_make(tenants, period_end)
    print(
        f"set up {TENANTS} retailers in {time.perf_counter() - started:.0f} s "
        f"(period ending {period_end:%Y-%m-%d %H:%M} UTC; "
        f"{settings.STRIPE_MAX_REQUESTS_PER_SECOND:g} Stripe requests/s at most)",
        flush=True,
    )
    return Bench(fake, fake_time, pace_time, period_end)


def measure(bench: Bench) -> str:
    """The hour's usage job, the close and its rerun; returns the figures' line."""
    from billing import services

    counted_at = bench.period_end + timedelta(minutes=5)
    close_at = bench.period_end + timedelta(minutes=10)

    def usage_hour() -> None:
        services.usage_count(now=counted_at)
        services.usage_send(now=counted_at)

    usage = bench.run(usage_hour)
    close = profiled(lambda: bench.run(lambda: services.periods_close(now=close_at)))
    state = ledger_state()
    rerun = bench.run(lambda: services.periods_close(now=close_at))
    assert rerun.requests == 0, f"the rerun sent {rerun.requests} requests"
    assert ledger_state() == state, "the rerun wrote something"
    check(bench.period_end)
    print(f"{usage.line('usage_hour')} {close.line('close')}", flush=True)
    our_ms = (close.wall - close.fake - close.paced) / TENANTS * 1000
    return (
        f"tenants={TENANTS} usage_hour_s={usage.wall:.1f} close_s={close.wall:.1f} "
        f"close_rerun_s={rerun.wall:.3f} our_ms_per_tenant={our_ms:.2f}"
    )


def main() -> int:
    with support.scratch_database(DATABASE) as database:
        environment = support.project_environment(
            database,
            STRIPE_SECRET_KEY="sk_test_bench",  # noqa: S106 - the fake Stripe's
            STRIPE_WEBHOOK_SECRET="whsec_bench",  # noqa: S106
        )
        if RATE:
            environment["STRIPE_MAX_REQUESTS_PER_SECOND"] = RATE
        bench = None
        try:
            bench = setup(environment)
            result = measure(bench)
        finally:
            if bench is not None:
                bench.fake.stop()
    print(result, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
