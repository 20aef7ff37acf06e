"""Tenant provisioning and fleet migration at 1,000 tenants.

Creates a scratch database (``<database>_bench``, beside DATABASE_URL's), provisions
BENCH_TENANTS tenants (default 1,000) one by one as a sign-up would, then times ``manage.py
migrate_tenants`` twice, as a deploy Job runs it: with nothing pending, and with one new trivial
migration (an added column) for every tenant. The last line also gives the load average the
second ran under: on a shared machine the figure means little without it.

Run with ``make bench`` (embedded servers unless DATABASE_URL / REDIS_URL are set). The last line
printed holds the figures as key=value pairs.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # before bench/, whose tenants.py is this file, not the app

from bench import support  # noqa: E402 - needs ROOT on the path, just above

TENANTS = int(os.environ.get("BENCH_TENANTS", "1000"))

INITIAL_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="BenchNote",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("text", models.CharField(max_length=100)),
            ],
        ),
    ]
"""

NEW_MIGRATION = """from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("benchapp", "0001_initial")]
    operations = [
        migrations.AddField("benchnote", "note", models.CharField(max_length=20, null=True)),
    ]
"""


def scratch_database() -> str:
    """``<database>_bench`` beside the configured database, so two people's runs never meet."""
    return urlsplit(support.configured_database_url()).path.strip("/") + "_bench"


def main() -> None:
    database = scratch_database()
    support.database_recreate(database)
    migrations_root = Path(tempfile.mkdtemp(prefix="bench-migrations-"))
    package = migrations_root / "bench_migrations"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "0001_initial.py").write_text(INITIAL_MIGRATION)
    environment = support.project_environment(
        support.database_url(database),
        DJANGO_SETTINGS_MODULE="bench.bench_settings",
        PYTHONPATH=os.pathsep.join([str(migrations_root), str(ROOT)]),
    )
    sys.path[:0] = [str(migrations_root), str(ROOT)]

    seconds, summary = support.manage(environment, "migrate_tenants")
    print(f"first migrate (public + template): {seconds:.2f} s  {summary}", flush=True)

    support.django_setup(environment)
    from tenants.services import tenant_create

    durations = []
    for number in range(TENANTS):
        started = time.perf_counter()
        tenant_create(
            name=f"Bench shop {number}",
            slug=f"bench-{number}",
            owner_email=f"owner@bench-{number}.example",
            provision_now=True,
        )
        durations.append(time.perf_counter() - started)
        if (number + 1) % 100 == 0:
            print(f"created {number + 1} tenants, last {durations[-1] * 1000:.0f} ms", flush=True)
    quantiles = statistics.quantiles(durations, n=100)
    create_p50, create_p95 = statistics.median(durations), quantiles[94]

    noop_seconds, summary = support.manage(environment, "migrate_tenants")
    print(f"migrate with nothing pending: {noop_seconds:.2f} s  {summary}", flush=True)

    (package / "0002_note.py").write_text(NEW_MIGRATION)
    # The machine may be shared: the figure means little without the load it ran under.
    load = os.getloadavg()[0]
    one_new_seconds, summary = support.manage(environment, "migrate_tenants")
    print(f"migrate with one new migration: {one_new_seconds:.2f} s  {summary}", flush=True)

    support.connections_close()
    support.database_recreate(database)  # leaves an empty database, not 1,000 schemas, behind
    print(
        f"tenants={TENANTS} create_p50_s={create_p50:.3f} create_p95_s={create_p95:.3f} "
        f"migrate_noop_{TENANTS}_s={noop_seconds:.2f} "
        f"migrate_one_new_{TENANTS}_s={one_new_seconds:.2f} "
        f"load_1m={load:.2f} cores={os.cpu_count()}"
    )


if __name__ == "__main__":
    main()
