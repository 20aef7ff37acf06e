"""The shops of bench/submissions.py's phases beyond the single shop: many tenants, and a shop
with a CRM destination. Imported by bench/submissions.py (run it, not this module).

Many tenants: each is a real tenant (a row, a host ``spread<i>.localhost``, a schema cloned from
the template like any new shop's) given a copy of the single shop's store, form and tablet rows,
its tablet with a token of its own. Copying the rows rather than going through the services
makes 1,000 shops in minutes instead of a quarter of an hour; the rows are the same ones.
"""

import hashlib
import multiprocessing
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench import support

SPREAD_SLUG = "spread"
DESTINATION_SLUG = "benchcrm"
#: Tables whose rows the many tenants copy from the single shop (in this order: keys first).
_COPIED = (
    "signup_location",
    "signup_form",
    "signup_consenttext",
    "signup_formversion",
    "signup_device",
)
#: How long the worker is watched delivering after a destination run, before what is left of
#: the run's sign-ups is set aside: a run stores about 10,000, and the webhook's rate limit (50
#: a second per destination) would take minutes over them, on the next runs' CPU.
DRAIN_SECONDS = 20.0


@dataclass(frozen=True)
class Spread:
    """The many tenants: host ``<prefix><i>.localhost`` and token ``<token><i>`` for i < count."""

    count: int
    host_prefix: str
    token_prefix: str
    form_version: int


def _spread_tenant_make(index: int, source_schema: str, token_prefix: str) -> None:
    from django.conf import settings
    from django.db import connection, transaction

    from customerinfo.core.tenancy import use_public_schema
    from tenants.models import Domain, Tenant, TenantStatus
    from tenants.schemas import quote, schema_clone
    from tenants.services import schema_name_for

    slug = f"{SPREAD_SLUG}{index}"
    with transaction.atomic():
        tenant = Tenant.objects.create(
            name=f"Spread {index}",
            slug=slug,
            schema_name=schema_name_for(slug),
            owner_email=f"{slug}@bench.example",
            ready=True,
            status=TenantStatus.ACTIVE,
        )
        Domain.objects.create(
            domain=f"{slug}.{settings.BASE_DOMAIN}", tenant=tenant, is_primary=True
        )
        schema_clone(source=settings.TENANT_TEMPLATE_SCHEMA, target=tenant.schema_name)
        use_public_schema()
        with connection.cursor() as cursor:
            # Keys are not checked while copying: the rows copied are consistent.
            cursor.execute("SET LOCAL session_replication_role = replica")
            for table in _COPIED:
                cursor.execute(
                    f"INSERT INTO {quote(tenant.schema_name)}.{table} "  # noqa: S608 - names
                    f"OVERRIDING SYSTEM VALUE SELECT * FROM {quote(source_schema)}.{table}"
                )
            token_hash = hashlib.sha256(f"{token_prefix}{index}".encode()).hexdigest()
            cursor.execute(
                f"UPDATE {quote(tenant.schema_name)}.signup_device SET token_hash = %s",  # noqa: S608
                [token_hash],
            )


def _spread_slice(indexes: list[int], source_schema: str, token_prefix: str) -> int:
    from django.db import connections

    connections.close_all()  # the parent's connection is not this process's to use
    for index in indexes:
        _spread_tenant_make(index, source_schema, token_prefix)
    connections.close_all()
    return len(indexes)


def spread_tenants_make(*, count: int, source_slug: str, form_version: int) -> Spread:
    """``count`` ready tenants, each with a copy of ``source_slug``'s store, form and tablet.

    Made by ``BENCH_MAKE_PROCESSES`` (4) processes at once: cloning a schema mostly waits for
    the disk, so four go about three times as fast as one on two cores."""
    from django.db import connections

    from tenants.models import Tenant

    source_schema = Tenant.objects.get(slug=source_slug).schema_name
    token_prefix = f"bench-spread-{os.urandom(6).hex()}-"
    processes = int(os.environ.get("BENCH_MAKE_PROCESSES", "4"))
    connections.close_all()
    slices = [list(range(start, count, processes)) for start in range(processes)]
    made = 0
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        for done in pool.starmap(
            _spread_slice, [(part, source_schema, token_prefix) for part in slices if part]
        ):
            made += done
    print(f"  {made} tenants made", flush=True)
    return Spread(
        count=count,
        host_prefix=SPREAD_SLUG,
        token_prefix=token_prefix,
        form_version=form_version,
    )


def destination_shop_make(*, port: int) -> None:
    """Gives the shop ``DESTINATION_SLUG`` an enabled webhook destination pointed at the
    project's own demo sink (``/sink/<slug>/`` on the public host) on ``port``."""
    from django_tenants.utils import tenant_context

    from crm_sync.crypto import credentials_decrypt
    from crm_sync.providers.webhook import secret_generate
    from crm_sync.services import destination_create
    from crm_sync.sink import sink_secret_key
    from customerinfo.core.redis import redis_client
    from tenants.models import Tenant

    url = f"http://localhost:{port}/sink/{DESTINATION_SLUG}/"
    with tenant_context(Tenant.objects.get(slug=DESTINATION_SLUG)):
        destination = destination_create(
            actor=None,
            name="Bench sink",
            kind="webhook",
            settings={"url": url},
            credentials={"secret": secret_generate()},
        )
        secret = credentials_decrypt(destination.credentials)["secret"]
    redis_client().set(sink_secret_key(DESTINATION_SLUG), secret)


#: Deployed, the worker runs on worker pods and the CRM elsewhere: here they share the two
#: cores with the measured web server, so they run at this niceness and take the CPU it leaves
#: (their database work, on the database shared in production too, runs at full priority).
#: Between runs, the drain gives them the idle machine.
BACKGROUND_NICENESS = 19
#: The application_name the worker's and beat's PostgreSQL connections carry.
WORKER_APPLICATION = "bench-worker"


def workers_start(environment: dict[str, str]) -> list[support.Process]:
    """The Celery worker that delivers the destination shop's sign-ups to the sink (niced:
    ``BACKGROUND_NICENESS``), and beat, whose relay hands new deliveries to it (as deployed:
    the chart runs both). Beat schedules
    the relay alone (bench/relay_settings.py), and both name themselves to PostgreSQL
    (``WORKER_APPLICATION``) so their backends are not counted with the web's."""
    schedule = Path(tempfile.mkdtemp(prefix="bench-beat-")) / "schedule"
    named = {**environment, "PGAPPNAME": WORKER_APPLICATION}
    relay_only = {**named, "DJANGO_SETTINGS_MODULE": "bench.relay_settings"}
    return [
        support.celery_worker_start(
            named, concurrency=2, stdout=subprocess.DEVNULL, niceness=BACKGROUND_NICENESS
        ),
        support.celery_beat_start(relay_only, schedule, stdout=subprocess.DEVNULL),
    ]


def outbox_drain(url: str) -> None:
    """Watches the worker deliver for up to DRAIN_SECONDS, prints how fast it went (the
    destination's rate limit, when the backlog is larger than it lets through), then sets aside
    (deletes and vacuums) what the run left undelivered, so its work does not fall on the next
    run."""
    started = time.monotonic()
    left = first = 0
    url = url.replace("postgres://", "postgresql://", 1)
    pending = "FROM public.crm_outbox_delivery WHERE status = 'pending'"
    with psycopg.connect(url, autocommit=True) as project:
        while time.monotonic() - started < DRAIN_SECONDS:
            row = project.execute(f"SELECT count(*) {pending}").fetchone()
            left = int(str(row[0])) if row else 0
            first = first or left
            if not left:
                break
            time.sleep(0.5)
        seconds = time.monotonic() - started
        project.execute(
            "DELETE FROM public.crm_outbox_deliveryattempt WHERE delivery_id IN (SELECT id"
            " FROM public.crm_outbox_delivery WHERE status = 'pending')"
        )
        set_aside = project.execute(f"DELETE {pending}").rowcount
        # The dead rows, left to autovacuum, were vacuumed inside the next run (a baseline
        # round read 875 requests a second after one, 1,711 before): vacuumed here, and the
        # pages written, between the runs.
        project.execute("VACUUM public.crm_outbox_delivery, public.crm_outbox_deliveryattempt")
    support.writes_settle()
    rate = (first - left) / seconds if seconds else 0.0
    print(
        f"--- outbox: {first - left} delivered in {seconds:.1f} s after the run ({rate:.0f} a "
        f"second); {set_aside} left undelivered set aside",
        flush=True,
    )


def backend_memory(
    admin: psycopg.Connection[tuple[Any, ...]], database: str, application: str
) -> list[float]:
    """RssAnon of each PostgreSQL backend of ``application`` on the project's database, in MB."""
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
        [database, application],
    )
    sizes = (support.rss_anon_kb(int(pid)) for (pid,) in rows.fetchall())
    return [size / 1024 for size in sizes if size is not None]
