"""How the kiosk's sign-up statement should meet many tenants on one connection: a micro-bench.

In one run: recreates the scratch database ``customerinfo_bench_plans``, makes a shop and
``BENCH_PLAN_TENANTS`` (200) more like bench/submissions.py does, then on fresh connections
times the sign-up INSERT (the statement without the outbox, as most shops use) five ways, first
over one shop, then rotating over every shop:

- ``search_path``: unqualified text, prepared, a ``SET search_path`` whenever the shop changes
  (what the kiosk did before: PostgreSQL plans the statement again after each change);
- ``qualified``: the text naming the shop's schema, prepared: one plan per shop per connection,
  PostgreSQL's default plan cache mode (the first five runs of each planned afresh);
- ``qualified_generic``: the same with ``plan_cache_mode = force_generic_plan``, as the project
  sets it: the generic plan from the first run;
- ``qualified_lru100``: the same with psycopg's default of 100 prepared statements kept per
  connection (older ones deallocated);
- ``unprepared``: the qualified text, parsed and planned every time;
- ``qualified_no_triggers``: ``qualified`` with the daily-count triggers off, to tell their cost.

For each it prints the median and p99 microseconds per sign-up (the ``SET`` included), over a
rotation whose first pass (cold: each shop met for the first time) is timed apart, and the
backend's own memory (``RssAnon``) after it. Commits do not wait for the disk
(``synchronous_commit = off``): on a shared machine that wait would drown what is compared. The
last line::

    single_search_path_us=… rotating_search_path_us=… rotating_qualified_us=… … tenants=200

Run with ``uv run python bench/submissions_plans.py``; DATABASE_URL names the server.
"""

import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import submissions, support  # noqa: E402 - needs ROOT on the path

DATABASE = "customerinfo_bench_plans"
TENANTS = int(os.environ.get("BENCH_PLAN_TENANTS", "200"))
#: Passes over every shop after the cold one.
PASSES = int(os.environ.get("BENCH_PLAN_PASSES", "3"))
SINGLE = 2000


def rss_mb(connection: psycopg.Connection[Any]) -> float:
    """The connection's backend's own memory (RssAnon), in MB."""
    row = connection.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    size = support.rss_anon_kb(int(row[0]))
    return float("nan") if size is None else size / 1024


def parameters(device_id: int, location_id: int, version_id: int, text_id: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": uuid.uuid4(),
        "form_version_id": version_id,
        "location_id": location_id,
        "device_id": device_id,
        "country": "US",
        "email": "plan@example.com",
        "first_name": "Ann",
        "last_name": "",
        "phone": "",
        "birthday_month": None,
        "birthday_day": None,
        "postal_code": "",
        "answers": "{}",
        "set_aside": "{}",
        "locale": "en",
        "captured_at": now,
        "received_at": now,
        "consents": json.dumps(
            [{"channel": "email", "granted": True, "text_id": text_id, "text_hash": "x"}]
        ),
    }


Way = Callable[[psycopg.Connection[Any], str, dict[str, Any]], None]


def ways(plain: str, qualified: Callable[[str], str]) -> dict[str, tuple[Way, int | None]]:
    current: dict[int, str] = {}

    def search_path(connection: psycopg.Connection[Any], schema: str, values: Any) -> None:
        if current.get(id(connection)) != schema:
            connection.execute(f'SET search_path = "{schema}", public')
            current[id(connection)] = schema
        connection.execute(plain, values, prepare=True).fetchone()

    def prepared(connection: psycopg.Connection[Any], schema: str, values: Any) -> None:
        connection.execute(qualified(schema), values, prepare=True).fetchone()

    def unprepared(connection: psycopg.Connection[Any], schema: str, values: Any) -> None:
        connection.execute(qualified(schema), values, prepare=False).fetchone()

    def generic(connection: psycopg.Connection[Any], schema: str, values: Any) -> None:
        # What the project does (customerinfo.core.db): the generic plan from the first run,
        # where PostgreSQL would otherwise plan each of a statement's first five runs afresh.
        if current.get(id(connection)) != "generic":
            connection.execute("SET plan_cache_mode = force_generic_plan")
            current[id(connection)] = "generic"
        prepared(connection, schema, values)

    def without_triggers(connection: psycopg.Connection[Any], schema: str, values: Any) -> None:
        # What the statement costs without the daily-count triggers it fires (replica role).
        if current.get(id(connection)) != "replica":
            connection.execute("SET session_replication_role = replica")
            current[id(connection)] = "replica"
        prepared(connection, schema, values)

    return {
        "search_path": (search_path, None),
        "qualified": (prepared, 100_000),
        "qualified_generic": (generic, 100_000),
        "qualified_lru100": (prepared, 100),
        "unprepared": (unprepared, None),
        "qualified_no_triggers": (without_triggers, 100_000),
    }


def timed(way: Way, connection: psycopg.Connection[Any], schemas: list[str], ids: Any) -> float:
    started = time.perf_counter()
    for schema in schemas:
        way(connection, schema, {**parameters(*ids), "search_path": f'"{schema}", public'})
    return (time.perf_counter() - started) * 1e6 / len(schemas)


def main() -> int:
    environment = submissions.project_environment(cache_prefix=f"bench-plans-{os.getpid()}")
    environment["DATABASE_URL"] = support.database_url(DATABASE)
    submissions.DATABASE = DATABASE
    os.environ["BENCH_PHASES"] = "single,tenants"
    submissions.SELECTED = ["single", "tenants"]
    submissions.TENANTS = TENANTS
    try:
        shops = submissions.project_prepare(environment, sink_port=0)
        from django_tenants.utils import tenant_context

        from customerinfo.core.db import tenant_qualified
        from signup.models import ConsentText, Device
        from signup.services.submissions import _INSERT_SUBMISSION
        from tenants.models import Tenant

        with tenant_context(Tenant.objects.get(slug=submissions.TENANT_SLUG)):
            device = Device.objects.get()
            text = ConsentText.objects.filter(channel="email").first()
        assert text is not None
        ids = (device.pk, device.location_id, shops.single.form_version, text.pk)
        schemas = [t.schema_name for t in Tenant.objects.filter(slug__startswith="spread")]
        plain = _INSERT_SUBMISSION[False]
        figures: dict[str, float] = {}
        url = support.database_url(DATABASE).replace("postgres://", "postgresql://", 1)
        for name, (way, kept) in ways(
            plain, lambda schema: tenant_qualified(plain, schema=schema)
        ).items():
            for scenario, order in (("single", ["t_bench"] * SINGLE), ("rotating", schemas)):
                with psycopg.connect(url, autocommit=True) as raw:
                    raw.prepare_threshold = 0
                    # What is compared is parsing and planning, not waiting for the disk.
                    raw.execute("SET synchronous_commit = off")
                    if kept is not None:
                        raw.prepared_max = kept
                    before = rss_mb(raw)
                    cold = timed(way, raw, order, ids)
                    warm = [timed(way, raw, order, ids) for _ in range(PASSES)]
                    after = rss_mb(raw)
                figures[f"{scenario}_{name}_us"] = statistics.median(warm)
                if scenario == "rotating":
                    figures[f"cold_{name}_us"] = cold
                    figures[f"rss_{name}_mb"] = after
                    figures["rss_fresh_mb"] = before
                middle = statistics.median(warm)
                print(
                    f"{scenario:8} {name:17} cold {cold:7.0f} us, warm {middle:7.0f} us per"
                    f" sign-up; backend RssAnon {before:.1f} -> {after:.1f} MB",
                    flush=True,
                )
    finally:
        support.connections_close()
        support.database_drop(DATABASE)
    print(" ".join(f"{key}={value:.1f}" for key, value in figures.items()) + f" tenants={TENANTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
