"""The portal at a head office's volume: 200,000 sign-ups over 20 stores and 40 tablets.

In one run:

1. recreates the scratch database ``customerinfo_bench_portal``, migrates it and makes one
   tenant with the brand form (email, names, postal code and three custom questions) published,
   20 stores in five time zones and 2 tablets in each;
2. fills it with 200,000 sign-ups spread over the last year in one ``INSERT … SELECT`` over
   ``generate_series`` (a third with custom answers, email consent on four in five, SMS consent
   on one in four), then VACUUM ANALYZE as autovacuum would;
3. times, inside this process through Django's test client as the owner (server side: routing,
   middleware, queries and template; no network), the median of BENCH_RUNS (default 7) requests
   of: the list's first page, an exact email search, a partial one, the oldest page, a date
   jump to a year ago, and the dashboard (the home page) over 30 and 90 days;
4. starts a Celery worker (on a Redis database of its own), asks for the export of all 200,000
   sign-ups as the "Prepare CSV" button does, and times until the worker has written the file;
5. in a child process, purges 100,000 sign-ups (the retention period set so exactly that many
   are older) and reports the growth of its peak resident memory (``getrusage`` ru_maxrss
   after the purge minus before it, the process already set up and connected: the figure of
   the last line), and tracemalloc's peak of Python objects during the purge;
6. drops the database, and prints as its last line::

    list_ms=… search_exact_ms=… search_partial_ms=… dashboard_ms=… export_200k_s=… \
purge_100k_peak_mb=…

The fill goes through the triggers that keep the dashboard's daily counts (migration 0008 of
signup), so it also checks that those counts equal a count of the sign-ups themselves.

Run with ``uv run python bench/portal.py`` (PostgreSQL on 127.0.0.1:5432 as ``postgres``,
Redis on 127.0.0.1:6379; DATABASE_URL and REDIS_URL name other servers).
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import support  # noqa: E402 - needs ROOT on the path
from bench.crm_delivery import WORKER_CONCURRENCY  # noqa: E402
from bench.portal_days import days_check, measure_trigger_cost  # noqa: E402

#: The scratch database and Redis database (BENCH_DATABASE, BENCH_REDIS_DB name others, for
#: runs beside another one on the same servers).
DATABASE = os.environ.get("BENCH_DATABASE", "customerinfo_bench_portal")
REDIS_DB = os.environ.get("BENCH_REDIS_DB", "7")
SIGNUPS = int(os.environ.get("BENCH_SIGNUPS", "200000"))
PURGED = SIGNUPS // 2
STORES = 20
TABLETS_PER_STORE = 2
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
SLUG = "headoffice"
ZONES = [
    ("FR", "Europe/Paris"),
    ("GB", "Europe/London"),
    ("US", "America/New_York"),
    ("US", "America/Chicago"),
    ("US", "America/Los_Angeles"),
]


def brand_definition() -> dict[str, Any]:
    from signup.definitions import default_definition

    definition = default_definition()
    label = {"en": "", "fr": "", "es": ""}

    def field(key: str, kind: str, english: str, options: list[str] | None = None) -> None:
        item: dict[str, Any] = {
            "key": key,
            "type": kind,
            "required": False,
            "label": {**label, "en": english, "fr": english, "es": english},
        }
        if options:
            item["options"] = [{"value": o, "label": {"en": o, "fr": o, "es": o}} for o in options]
        definition["fields"].append(item)

    field("last_name", "last_name", "Last name")
    field("postal_code", "postal_code", "Postal code")
    field("department", "single_choice", "Favourite department", ["women", "men", "kids", "home"])
    field("interests", "multiple_choice", "Interests", ["sales", "new", "events"])
    field("loyalty", "checkbox", "Loyalty member")
    return definition


def setup() -> Any:
    """The head office: brand form, 20 stores, 40 tablets; returns the tenant."""
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from signup import services

    call_command("migrate_tenants", verbosity=0)
    tenant = support.shop_create(name="Head office", slug=SLUG)
    with tenant_context(tenant):
        form = services.form_create(
            actor=None, name="Brand form", is_default=True, definition=brand_definition()
        )
        services.form_publish(actor=None, form=form)
        for number in range(STORES):
            country, zone = ZONES[number % len(ZONES)]
            location = services.location_create(
                actor=None,
                name=f"Store {number + 1:02d}",
                code=f"store-{number + 1:02d}",
                country=country,
                time_zone=zone,
            )
            for tablet in range(TABLETS_PER_STORE):
                _, code = services.pairing_code_create(
                    actor=None, location=location, device_name=f"Till {tablet + 1}"
                )
                services.device_pair(code=code)
    return tenant


FILL_SQL = """
INSERT INTO signup_submission (id, form_version_id, location_id, device_id, email, first_name,
    last_name, phone, birthday_month, birthday_day, postal_code, answers, set_aside, locale,
    captured_at, received_at)
SELECT gen_random_uuid(), %(version)s, (%(locations)s::bigint[])[1 + (n %% 40) / 2],
    (%(devices)s::bigint[])[1 + n %% 40],
    'shopper' || n || '@' || (ARRAY['gmail.com','yahoo.fr','outlook.com','example.org',
        'free.fr'])[1 + n %% 5],
    (ARRAY['Ann','Bea','Carl','Dana','Eli','Fay','Gus','Hana'])[1 + n %% 8],
    (ARRAY['Martin','Smith','Garcia','Dubois','Jones','Lopez'])[1 + n %% 6],
    '', NULL, NULL, lpad((n %% 99999)::text, 5, '0'),
    CASE WHEN n %% 3 = 0 THEN jsonb_build_object(
        'department', (ARRAY['women','men','kids','home'])[1 + n %% 4],
        'interests', CASE WHEN n %% 2 = 0 THEN '["sales","new"]'::jsonb ELSE '["events"]' END,
        'loyalty', n %% 6 = 0) ELSE '{}'::jsonb END,
    '{}'::jsonb, (ARRAY['en','fr','es'])[1 + n %% 3],
    at - interval '4 seconds', at
FROM (
    SELECT n, now() - (n * interval '365 days' / %(count)s) - random() * interval '20 seconds'
        AS at
    FROM generate_series(1, %(count)s) AS n
) AS series
"""

CONSENT_SQL = """
INSERT INTO signup_consent (submission_id, channel, granted, text_id, text_hash, locale,
    location_id, device_id, captured_at, received_at)
SELECT s.id, %(channel)s, %(granted)s, t.id, t.text_hash, s.locale, s.location_id, s.device_id,
    s.captured_at, s.received_at
FROM signup_submission s
JOIN signup_consenttext t ON t.channel = 'email' AND t.locale = s.locale
WHERE %(where)s
"""


def fill(tenant: Any) -> None:
    from django.db import connection
    from django_tenants.utils import tenant_context

    from signup.models import Device, Form, Location

    with tenant_context(tenant), connection.cursor() as cursor:
        version = Form.objects.get(is_default=True).current_version_id
        locations = list(Location.objects.order_by("pk").values_list("pk", flat=True))
        devices = list(Device.objects.order_by("location_id", "pk").values_list("pk", flat=True))
        cursor.execute(
            FILL_SQL,
            {"version": version, "locations": locations, "devices": devices, "count": SIGNUPS},
        )
        # Email consent on every sign-up (granted by four in five), SMS on one in four; the
        # wording rows are the published form's (SMS reuses the email text: only its id is read).
        for channel, granted, where in [
            ("email", "(get_byte(uuid_send(s.id), 0) %% 5) <> 0", "true"),
            ("sms", "true", "get_byte(uuid_send(s.id), 1) %% 4 = 0"),
        ]:
            cursor.execute(
                CONSENT_SQL.replace("%(granted)s", granted).replace("%(where)s", where),
                {"channel": channel},
            )
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {tenant.schema_name}.signup_submission")
        cursor.execute(f"VACUUM ANALYZE {tenant.schema_name}.signup_consent")
        cursor.execute(f"VACUUM ANALYZE {tenant.schema_name}.signup_signupday")
    days_check(tenant)


#: The fastest run of each page, printed beside the medians: on a machine shared with other work
#: the median carries its waits, the fastest run is closer to what the page costs.
FASTEST: dict[str, float] = {}


def timed(client: Any, path: str, query: dict[str, str] | None = None) -> float:
    """Median milliseconds of RUNS requests, after one to warm caches and connections."""
    durations = support.get_timings(client, path, runs=RUNS, query=query)
    FASTEST[f"{path}?{query or ''}"] = min(durations)
    return statistics.median(durations)


def measure_pages(tenant: Any) -> dict[str, float]:
    from django_tenants.utils import tenant_context

    from signup.models import Submission
    from signup.selectors import OLDEST

    client = support.owner_client(tenant)
    with tenant_context(tenant):
        some = Submission.objects.order_by("received_at")[SIGNUPS // 3]
        year_ago = (some.received_at - timedelta(days=120)).date().isoformat()
    return {
        "list": timed(client, "/signups/"),
        "search_exact": timed(client, "/signups/", {"email": some.email.upper()}),
        # Part of an address that matches one sign-up in 10,000.
        "search_partial": timed(client, "/signups/", {"email": "hopper1234@"}),
        "oldest_page": timed(client, "/signups/", {"newer": OLDEST.token()}),
        "date_jump": timed(client, "/signups/", {"go": year_ago}),
        "store_filter": timed(client, "/signups/", {"location": str(some.location_id)}),
        "consent_filter": timed(client, "/signups/", {"consent": "sms"}),
        # The home page: per-day chart, per-store table, tablets, CRM health.
        "dashboard": timed(client, "/"),
        "dashboard_90": timed(client, "/", {"days": "90"}),
    }


def measure_export(tenant: Any, environment: dict[str, str]) -> tuple[float, int]:
    """Seconds from "Prepare CSV" to the worker's file, and its rows."""
    from django_tenants.utils import tenant_context

    from signup.models import Export

    client = support.owner_client(tenant)
    worker = support.celery_worker_start(environment, concurrency=WORKER_CONCURRENCY)
    try:
        time.sleep(5)  # the worker's start-up is not what is measured
        started = time.perf_counter()
        response = client.post("/signups/exports/", {})
        assert response.status_code == 302, response.status_code
        with tenant_context(tenant):
            while True:
                export = Export.objects.get()
                if export.status in ("done", "failed"):
                    break
                if time.perf_counter() - started > 600:
                    raise TimeoutError("the export did not finish in 10 minutes")
                time.sleep(0.1)
        seconds = time.perf_counter() - started
        assert export.status == "done", export.error
        return seconds, export.row_count or 0
    finally:
        support.process_group_stop(worker)


def purge_child() -> None:
    """In its own process: purge PURGED sign-ups, print the peak memory growth as JSON."""
    import django

    django.setup()
    from django.db import connection
    from django_tenants.utils import tenant_context

    from signup import services
    from signup.models import RetailerSettings, Submission
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=SLUG)
    with tenant_context(tenant):
        boundary = Submission.objects.order_by("received_at")[PURGED].received_at
        RetailerSettings.objects.update_or_create(pk=1, defaults={"retention_days": 180})
        now = boundary + timedelta(days=180)  # exactly PURGED sign-ups are older than that
        connection.ensure_connection()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        started = time.perf_counter()
        deleted = services.retention_purge(now=now)
        seconds = time.perf_counter() - started
        python_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "deleted": deleted,
                "seconds": seconds,
                "peak_growth_mb": (after - before) / 1024,  # ru_maxrss is in KiB on Linux
                "peak_mb": after / 1024,
                "python_peak_mb": python_peak / 2**20,  # tracemalloc, Python objects only
            }
        )
    )


def measure_purge(environment: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--purge-child"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    redis = support.redis_url(REDIS_DB)
    exports = tempfile.mkdtemp(prefix="bench-exports-")
    with support.scratch_database(DATABASE) as database:
        environment = support.project_environment(
            database,
            redis,
            # As in production: DEBUG would keep every query of the run in memory and slow
            # pages.
            DEBUG="false",
            SIGNUP_EXPORT_STORAGE_OPTIONS=json.dumps({"location": exports}),
            EMAIL_URL="consolemail://",
        )
        support.django_setup(environment)
        support.redis_flush(redis)
        started = time.perf_counter()
        tenant = setup()
        fill(tenant)
        print(f"filled {SIGNUPS} sign-ups in {time.perf_counter() - started:.1f} s", flush=True)
        cost = measure_trigger_cost(tenant)
        print(
            f"sign-up cost: {cost['with']:.3f} ms with the daily-count triggers, "
            f"{cost['without']:.3f} ms without (median of alternating rounds, load included); "
            f"PostgreSQL's own time in them: signup_trigger_server_us={cost['server_us']:.0f}",
            flush=True,
        )
        days_check(tenant)
        pages = measure_pages(tenant)
        print(
            "medians: " + " ".join(f"{name}_ms={ms:.1f}" for name, ms in pages.items()), flush=True
        )
        print(
            "fastest: "
            + " ".join(f"{ms:.1f}" for ms in FASTEST.values())
            + f" (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)",
            flush=True,
        )
        export_seconds, rows = measure_export(tenant, environment)
        print(f"export: {rows} rows in {export_seconds:.1f} s", flush=True)
        support.connections_close()
        purge = measure_purge(environment)
        print(
            f"purge: {purge['deleted']} sign-ups in {purge['seconds']:.1f} s, peak RSS "
            f"{purge['peak_mb']:.0f} MB, grew {purge['peak_growth_mb']:.1f} MB during the purge "
            f"(ru_maxrss); Python objects peaked at {purge['python_peak_mb']:.2f} MB (tracemalloc)",
            flush=True,
        )
        print(
            f"list_ms={pages['list']:.1f} search_exact_ms={pages['search_exact']:.1f} "
            f"search_partial_ms={pages['search_partial']:.1f} "
            f"dashboard_ms={pages['dashboard']:.1f} "
            f"export_200k_s={export_seconds:.1f} "
            f"purge_100k_peak_mb={purge['peak_growth_mb']:.1f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--purge-child"]:
        purge_child()
        sys.exit(0)
    sys.exit(main())
