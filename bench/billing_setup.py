"""bench/billing.py's scratch world: the database's name, 10,000 retailers with accounts, a month
of usage and open closes, the fake Stripe timed around its handler, and the pace timed around its
sleeps. Kept apart so the measuring script reads as what it measures; the database itself is
made and dropped by bench/support.py."""

import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # before bench/, whose billing.py is this file, not the app

DATABASE = "customerinfo_bench_billing"
TENANTS = int(os.environ.get("BENCH_TENANTS", "10000"))
HOURS_A_DAY = int(os.environ.get("BENCH_HOURS_A_DAY", "8"))
RATE = os.environ.get("BENCH_RATE", "")
PROFILE = os.environ.get("BENCH_PROFILE", "")
DAYS = 30
#: Schemas made per transaction: each CREATE TABLE holds ~10 relation locks until commit.
SCHEMAS_PER_TRANSACTION = 100

Json = dict[str, Any]
T = TypeVar("T")


# --- measuring: the fake's own time, the pace's sleep ---------------------------------------


class Stopwatch:
    """Seconds spent inside something, from any thread."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()

    @contextmanager
    def timing(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            with self._lock:
                self.seconds += time.perf_counter() - started


def timed(method: Callable[[Any], None], stopwatch: Stopwatch) -> Callable[[Any], None]:
    def wrapper(self: Any) -> None:
        with stopwatch.timing():
            method(self)

    return wrapper


class MeterEvents(list[Json]):
    """The fake's meter events, also filed by (event name, customer).

    The fake sums a summary over every event it holds, which is right for tests and slow for a
    month of 10,000 retailers; filed by customer it adds up the same events, faster. Only the
    fake's time changes, and that time is not counted as ours anyway.
    """

    def __init__(self) -> None:
        super().__init__()
        self.by_customer: dict[tuple[str, str], list[Json]] = defaultdict(list)

    def append(self, event: Json) -> None:
        super().append(event)
        customer = str(event["payload"].get("stripe_customer_id"))
        self.by_customer[(event["event_name"], customer)].append(event)


def fake_start() -> tuple[Any, Stopwatch]:
    from billing.stripe_fake import StripeFake, metering

    fake = StripeFake().start()
    events = MeterEvents()
    fake.store.meter_events = events
    summed = metering.usage

    def usage(store: Any, meter: Json, customer_id: str, start: int, end: int) -> Decimal:
        mapping = meter["customer_mapping"]["event_payload_key"]
        if meter["default_aggregation"]["formula"] != "sum" or mapping != "stripe_customer_id":
            return summed(store, meter, customer_id, start, end)
        key = meter["value_settings"]["event_payload_key"]
        total = Decimal(0)
        for event in events.by_customer.get((meter["event_name"], customer_id), []):
            if start <= event["timestamp"] < end:
                value = metering._value(event, key)
                total += value if value is not None else 0
        return total

    setattr(metering, "usage", usage)  # noqa: B010 - the fake module's function, for this run
    stopwatch = Stopwatch()
    handler = fake._server.RequestHandlerClass
    serve = timed(getattr(handler, "do_POST"), stopwatch)  # noqa: B009 - typed as the base class
    for name in ("do_GET", "do_POST", "do_DELETE"):
        setattr(handler, name, serve)
    return fake, stopwatch


def pace_timed() -> Stopwatch:
    from billing.services.client import Pace

    stopwatch = Stopwatch()
    setattr(Pace, "wait", timed(Pace.wait, stopwatch))  # noqa: B010 - for this run only
    return stopwatch


# --- the month that was ---------------------------------------------------------------------


def batches(items: list[Any], size: int) -> Iterable[list[Any]]:
    for offset in range(0, len(items), size):
        yield items[offset : offset + size]


def retailers_make(fake: Any, period_end: datetime) -> list[Any]:
    """Tenants, Stripe customers, billing accounts and their open closes."""
    from billing.models import BillingAccount, PeriodClose, SubscriptionStatus
    from billing.stripe_fake.catalog import customer_create
    from billing.stripe_fake.params import Params
    from tenants.models import Tenant, TenantStatus

    tenants = Tenant.objects.bulk_create(
        [
            Tenant(
                name=f"Bench shop {number}",
                slug=f"bench{number}",
                schema_name=f"t_bench{number}",
                owner_email=f"owner@bench{number}.example",
                ready=True,
                status=TenantStatus.ACTIVE,
            )
            for number in range(TENANTS)
        ],
        batch_size=2000,
    )
    with fake.store.lock:
        customers = [
            customer_create(fake.store, Params({"email": f"owner@bench{n}.example"}))["id"]
            for n in range(TENANTS)
        ]
    accounts = BillingAccount.objects.bulk_create(
        [
            BillingAccount(
                tenant=tenant,
                stripe_customer_id=customer,
                stripe_subscription_id=f"sub_bench{number}",
                seats_item_id=f"si_bench{number}",
                status=SubscriptionStatus.ACTIVE,
                current_period_start=period_end,
                current_period_end=period_end + timedelta(days=DAYS),
                seats_billed=1,
                seats_wanted=1,
                usage_counted_until=period_end - timedelta(hours=1),
            )
            for number, (tenant, customer) in enumerate(zip(tenants, customers, strict=True))
        ],
        batch_size=2000,
    )
    PeriodClose.objects.bulk_create(
        [
            PeriodClose(
                account=account,
                period_start=period_end - timedelta(days=DAYS),
                period_end=period_end,
            )
            for account in accounts
        ],
        batch_size=2000,
    )
    return tenants


def ledger_make(fake: Any, period_end: datetime) -> None:
    """The month's sent hours in our ledger, and the same usage in Stripe's meter."""
    from django.db import connection

    from billing.models import CatalogPrice
    from billing.services import SIGNUPS
    from billing.services.usage import LAST_SECOND

    period_start = period_end - timedelta(days=DAYS)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO billing_usagereport (account_id, hour, signups, identifier, sent_at,
                created_at)
            SELECT account.id, hour,
                1 + (account.id * 7 + extract(epoch FROM hour)::bigint / 3600) %% 4,
                'signups-' || account.tenant_id || '-'
                    || to_char(hour AT TIME ZONE 'UTC', 'YYYYMMDDHH24'),
                hour + interval '70 minutes', hour + interval '65 minutes'
            FROM billing_billingaccount AS account
            CROSS JOIN generate_series(%s::timestamptz, %s::timestamptz, interval '1 hour')
                AS hour
            WHERE extract(hour FROM hour AT TIME ZONE 'UTC') BETWEEN 9 AND %s
            """,
            [period_start, period_end - timedelta(hours=2), 8 + HOURS_A_DAY],
        )
        cursor.execute(
            """
            SELECT account.stripe_customer_id, max(usage.hour), sum(usage.signups)
            FROM billing_usagereport AS usage
            JOIN billing_billingaccount AS account ON account.id = usage.account_id
            GROUP BY 1, date_trunc('day', usage.hour AT TIME ZONE 'UTC')
            """
        )
        daily = cursor.fetchall()
    event_name = CatalogPrice.objects.get(lookup_key=SIGNUPS).meter_event_name
    with fake.store.lock:
        for customer, last_hour, total in daily:
            moment = int((last_hour + LAST_SECOND).timestamp())
            fake.store.meter_events.append(
                {
                    "object": "billing.meter_event",
                    "created": moment,
                    "event_name": event_name,
                    "identifier": f"bench-{customer}-{moment}",
                    "livemode": False,
                    "payload": {"stripe_customer_id": customer, "value": str(total)},
                    "timestamp": moment,
                }
            )


def schemas_make(tenants: list[Any], period_end: datetime) -> None:
    """A sign-up table per tenant, with the day before's sign-ups (counted already) and the
    month's last hour's (1 to 3, not counted yet)."""
    from django.conf import settings
    from django.db import connection, transaction

    template = settings.TENANT_TEMPLATE_SCHEMA
    last_hour = period_end - timedelta(hours=1)
    day_before = last_hour - timedelta(days=1)
    connection.ensure_connection()
    raw = connection.connection
    for batch in batches(tenants, SCHEMAS_PER_TRANSACTION):
        statements = []
        for tenant in batch:
            table = sql.Identifier(tenant.schema_name, "signup_submission")
            statements += [
                sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(tenant.schema_name)),
                sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING ALL)").format(
                    table, sql.Identifier(template, "signup_submission")
                ),
                sql.SQL(
                    "INSERT INTO {} (id, email, first_name, last_name, phone, postal_code, "
                    "answers, set_aside, locale, captured_at, received_at, form_version_id, "
                    "location_id) "
                    "SELECT gen_random_uuid(), 'shopper' || n || '@bench.example', '', '', '', "
                    "'', '{{}}', '{{}}', 'en', moment, moment, 1, 1 FROM ("
                    "SELECT n, {} + n * interval '17 minutes' AS moment "
                    "FROM generate_series(1, 60) AS n "
                    "UNION ALL SELECT n, {} + n * interval '13 minutes' AS moment "
                    "FROM generate_series(1, {}) AS n) AS made"
                ).format(
                    table,
                    sql.Literal(day_before),
                    sql.Literal(last_hour),
                    sql.Literal(1 + tenant.pk % 3),
                ),
            ]
        script = sql.SQL(";\n").join(statements).as_string(raw)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(script)


# --- the run --------------------------------------------------------------------------------


def ledger_state() -> tuple[int, int, int, int]:
    from django.db.models import Count, Sum

    from billing.models import PeriodClose, UsageReport

    usage = UsageReport.objects.aggregate(rows=Count("pk"), total=Sum("signups"))
    closes = PeriodClose.objects.aggregate(rows=Count("pk"), attempts=Sum("attempts"))
    return usage["rows"], usage["total"] or 0, closes["rows"], closes["attempts"] or 0
