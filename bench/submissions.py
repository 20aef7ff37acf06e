"""Kiosk sign-up throughput against the bare Django baseline, over one shop, 1,000 shops and a
shop with a CRM destination; and the kiosk's first-load weight.

In one run:

1. recreates the scratch database ``customerinfo_bench_submissions``, migrates it
   (``manage.py migrate_tenants``), and makes a tenant ``bench`` with one store, the default form
   published and one paired tablet; for the ``tenants`` phase, ``BENCH_TENANTS`` (1,000) more
   tenants, each with its own host, schema, store, form and tablet
   (``bench/submissions_tenants.py``); for the ``destination`` phase a tenant ``benchcrm`` like
   ``bench`` whose shop has an enabled webhook destination pointed at the project's demo CRM
   sink (served by a second gunicorn of the project, 2 workers of 4 threads that keep
   connections open as a CRM does, not measured), a Celery worker
   (``--concurrency 2``) delivering to it (the sink and the worker stand for other machines:
   they run at niceness 19 and take the CPU the measured server leaves) and Celery beat
   scheduling the relay alone (``bench/relay_settings.py``: a deployment's other periodic
   sweeps of every shop run on worker pods, and here they fell inside some measured runs and
   not others);
2. serves the project (``gunicorn customerinfo.wsgi -w 4``, DEBUG off) and the bare baseline
   (``/work/shared/bench/baseline``: ``gunicorn bareapp -w 4`` on its own database);
3. loads each phase and the baseline in turn with ``wrk -t2 -c16 -d15s --latency`` after a
   warm-up: the project through ``bench/submissions.lua`` (POST /api/kiosk/submissions, a new
   sign-up every request, failing if more than 1 % are not 201; in the ``tenants`` phase each
   request goes to a tenant drawn at random, with its host and its tablet's token), the
   baseline through its ``post.lua``; three rounds (``BENCH_ROUNDS``), alternating the order;
   every figure is the median over the rounds, each ratio the median of each round's ratio
   (phase over baseline in the same round). The worker delivers during the ``destination``
   run at the webhook's rate limit (50 contacts a second per destination), far below the
   run's sign-ups; after the run it is watched for 20 s (its rate is printed), then what is left
   undelivered is set aside (deleted, then vacuumed and checkpointed), so its work does not
   fall on the next run;
4. while each run lasts, reads from /proc the CPU time the server's gunicorn processes and its
   PostgreSQL backends spend (``bench/submissions_cpu.py``; a backend is the server's when it
   carries the server's application_name, set through ``PGAPPNAME``, so the worker's and
   beat's backends on the same database are not counted): ``cpu_ratio`` is the baseline's CPU
   per request over the single shop's. It does not move with other work on the machine the way
   requests per second do, so it tells what the ratio is on a quiet machine;
5. after the ``tenants`` phase, reads the memory of each of the project server's PostgreSQL backends
   (``RssAnon`` in /proc/<pid>/status: the backend's own memory, not the shared buffers);
6. weighs the kiosk's first load: GET /kiosk/ with ``Accept-Encoding: gzip, br`` and every
   same-origin script, stylesheet, manifest and ES module it pulls in; bytes as sent on the wire
   (compressed bodies plus response headers, the headers counted from the parsed response, so
   approximately), in kB of 1,000 bytes;
7. stops the servers, the worker and beat, drops both databases, and prints as its last line::

    ratio=0.74 ratio_1000_tenants=0.72 ratio_with_destination=0.71 project_p99_ms=17.5 \
    p99_1000_tenants_ms=21.0 kiosk_first_load_kb=86.1 p99_with_destination_ms=20.1 \
    project_rps=1206 baseline_rps=1622 cpu_ratio=0.72 backend_rss_mb_max=40.1 \
    shared_buffers_mb=1024 rounds=3

Run with ``uv run python bench/submissions.py`` (PostgreSQL on 127.0.0.1:5432 as ``postgres``,
Redis on 127.0.0.1:6379, and ``wrk`` installed: ``apt install wrk`` on Debian). Environment
knobs: ``BENCH_PHASES`` (``single,tenants,destination``;
any subset, a phase left out prints ``nan``), ``BENCH_TENANTS`` (``1000``), ``BENCH_DURATION``
(default ``15s``), ``BENCH_WARMUP`` (``3s``; the ``tenants`` phase warms up
``BENCH_TENANTS_WARMUP``, ``30s``: the first sign-up of a shop on a worker reads its tablet and
form and plans its statement, and a long-running process has met its shops long ago; each
worker meets a given shop once per ~4,000 requests of the pod, so on a busy machine the rounds
still include first meetings; ``DATABASE_CONN_MAX_SCHEMAS`` is set to the shops served, as the
sizing in docs/architecture.md says for a pod serving them all), ``BENCH_KIOSK_RATE_LIMIT``
(``1000000/s``), ``BENCH_BASELINE_DIR``, ``BENCH_BASELINE_DB`` (``bench``), ``DATABASE_URL``
(server and user of the scratch database; its name is replaced), ``REDIS_URL`` (the project's
and the worker's Redis). Once the data is made, a CHECKPOINT and a sync put it on disk before
anything is measured (``support.writes_settle``).

The database server is the caller's: its ``shared_buffers`` is printed at the start and on the
last line, with a warning when it is below docs/scaling.md's sizing for the shops served (128 MB
plus half a MB a shop: 629 MB for this run's 1,002). Each run also prints what it cost the
database per request in pages and WAL (buffer hits and reads, buffers written by backends),
which tells a sizing problem from a CPU one.

Why the rate limit is ``1000000/s``: one benchmark tablet sends ~1,000 sign-ups a second, where a
real one stays under ``KIOSK_RATE_LIMIT`` (120/min); the limit is raised so every request is a
sign-up, not a 429. Every request is still counted against it as at any limit: in the process,
added to the shared Redis counter every 50 requests (a twentieth of the limit, at most 50).

What a project request does, so the figure can be read: gunicorn sync workers (as the Dockerfile
and the Helm chart run them; only the worker count differs, 4 here like the baseline), host
routing from the per-process host map, the kiosk fast path (``signup.submit_fast``),
the tablet and its count from the process's memory (``signup.devices``), one prepared INSERT
statement naming the tenant's schema (sign-up and consents, checking the tablet is still paired;
without a CRM destination, the statement without the outbox), no ``SET search_path``, in
autocommit. A tablet the process does not remember (its first request, then once a day,
``DEVICE_CACHE_SECONDS``) is also read from PostgreSQL.

Beside this script: bench/submissions_servers.py (gunicorn, wrk and reading its output),
bench/submissions_tenants.py (the many shops, the destination) and bench/submissions_weight.py
(the first-load weighing).
"""

import functools
import math
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts bench/ first on the path: the repository goes before it, so that
# bench's modules and the project's packages import.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import support  # noqa: E402 - needs ROOT on the path
from bench.submissions_cpu import process_tree  # noqa: E402
from bench.submissions_report import report  # noqa: E402
from bench.submissions_servers import (  # noqa: E402 - needs ROOT on the path, just above
    MAX_BAD_SHARE,
    BenchError,
    Load,
    Server,
    load_measure,
    warm_up,
)
from bench.submissions_tenants import (  # noqa: E402
    BACKGROUND_NICENESS,
    DESTINATION_SLUG,
    Spread,
    backend_memory,
    destination_shop_make,
    outbox_drain,
    spread_tenants_make,
    workers_start,
)
from bench.submissions_weight import kiosk_first_load, service_worker_extra  # noqa: E402

LUA_SCRIPT = ROOT / "bench" / "submissions.lua"
DATABASE = "customerinfo_bench_submissions"
BASELINE_DATABASE = os.environ.get("BENCH_BASELINE_DB", "bench")
TENANT_SLUG = "bench"
RATE_LIMIT = os.environ.get("BENCH_KIOSK_RATE_LIMIT", "1000000/s")
#: Measured runs of each server, alternated (project, baseline, baseline, project, ...).
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PHASES = ("single", "tenants", "destination")
SELECTED = [p.strip() for p in os.environ.get("BENCH_PHASES", ",".join(PHASES)).split(",") if p]
TENANTS = int(os.environ.get("BENCH_TENANTS", "1000"))
TENANTS_WARMUP = os.environ.get("BENCH_TENANTS_WARMUP", "30s")


# --- databases ---------------------------------------------------------------------------------
# Made, dropped and connected to by bench/support.py, on DATABASE_URL's server.


def server_processes(
    server: Server, database: str, admin: psycopg.Connection[tuple[Any, ...]]
) -> dict[str, set[int]]:
    """The server's gunicorn processes and the PostgreSQL backends serving them: those on its
    database carrying its application name (:func:`server_environment`), not the worker's."""
    assert server.process is not None
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
        [database, server_application(server.name)],
    )
    return {
        "gunicorn": process_tree(server.process.pid),
        "postgres": {int(str(pid)) for (pid,) in rows.fetchall()},
    }


def server_application(name: str) -> str:
    return f"bench-{name}"


def server_environment(name: str, environment: dict[str, str]) -> dict[str, str]:
    """``environment`` for the server ``name``: its PostgreSQL connections carry its name as
    application_name (libpq reads PGAPPNAME), so its backends are told from the worker's."""
    return {**environment, "PGAPPNAME": server_application(name)}


def shared_buffers_check() -> float:
    """The server's ``shared_buffers`` in MB, with a warning if it is below the sizing
    docs/scaling.md gives for the shops this run serves.

    Below it, the shops' hot pages (each shop's last pages of its sign-up tables and indexes)
    do not fit: over 1,000 shops on PostgreSQL's default 128 MB, each sign-up read 13-15 pages
    from outside the buffers and wrote 6-7 dirty ones out itself, and the phase measured the
    undersized database (535 sign-ups a second against 957-1,012 at 640 MB or more, same
    server, same run)."""
    with support.admin_connect() as admin:
        row = admin.execute(
            "SELECT setting::bigint * 8192 / 1048576.0 FROM pg_settings "
            "WHERE name = 'shared_buffers'"
        ).fetchone()
    assert row is not None
    buffers_mb = float(row[0])
    wanted = shared_buffers_wanted_mb(shops_served())
    print(f"shared_buffers: {buffers_mb:.0f} MB (sizing for {shops_served()} shops: {wanted} MB)")
    if buffers_mb < wanted:
        print(
            f"WARNING: shared_buffers is below docs/scaling.md's sizing for the shops served; "
            "the tenants phase will measure an undersized database. Raise it "
            f"(ALTER SYSTEM SET shared_buffers = '{wanted}MB', then restart PostgreSQL)",
            flush=True,
        )
    return buffers_mb


def shared_buffers_wanted_mb(shops: int) -> int:
    """docs/scaling.md's sizing: PostgreSQL's default for a small server, plus half a MB per
    shop taking sign-ups (the hot pages measured per shop, 479 kB, rounded up)."""
    return 128 + (shops + 1) // 2


# --- the project's data ------------------------------------------------------------------------


@dataclass(frozen=True)
class Kiosk:
    token: str
    form_version: int


@dataclass(frozen=True)
class Shops:
    single: Kiosk
    spread: Spread | None
    destination: Kiosk | None


def shops_served() -> int:
    """How many shops the project serves in this run: the spread ones, ``bench`` and
    ``benchcrm``."""
    return (TENANTS if "tenants" in SELECTED else 0) + 2


def project_environment(cache_prefix: str) -> dict[str, str]:
    return support.project_environment(
        support.database_url(DATABASE),
        DEBUG="false",
        # As docs/architecture.md's sizing says of a pod serving this many shops: a connection
        # keeps all of them (about 0.6 MB each in its backend). At the default 1,000, every
        # worker's connection was renewed once it had met the 1,002 shops, and met them all
        # again cold, inside the measured rounds.
        DATABASE_CONN_MAX_SCHEMAS=str(max(shops_served(), 1000)),
        KIOSK_RATE_LIMIT=RATE_LIMIT,
        # A key space of this run's own: no throttle history left by an earlier run.
        CACHE_KEY_PREFIX=cache_prefix,
        PYTHONDONTWRITEBYTECODE="1",
    )


def kiosk_shop_make(slug: str) -> Kiosk:
    """A ready tenant with one store, the default form published and one paired tablet."""
    from django_tenants.utils import tenant_context

    from signup import services
    from tenants.services import tenant_create

    tenant = tenant_create(
        name=f"Bench retailer {slug}",
        slug=slug,
        owner_email=f"owner@{slug}.example",
        provision_now=True,
    )
    with tenant_context(tenant):
        location = services.location_create(
            actor=None,
            name="Bench store",
            code="bench",
            country="US",
            time_zone="America/New_York",
        )
        form = services.form_create(actor=None, name="Bench", is_default=True)
        version = services.form_publish(actor=None, form=form)
        _row, code = services.pairing_code_create(
            actor=None, location=location, device_name="bench"
        )
        _device, token = services.device_pair(code=code)
    return Kiosk(token=token, form_version=version.pk)


def project_prepare(environment: dict[str, str], sink_port: int) -> Shops:
    support.database_recreate(DATABASE)
    support.manage(environment, "migrate_tenants")
    support.django_setup(environment)
    from django.db import connections

    single = kiosk_shop_make(TENANT_SLUG)
    spread = destination = None
    if "tenants" in SELECTED:
        print(f"making {TENANTS} more tenants", flush=True)
        spread = spread_tenants_make(
            count=TENANTS, source_slug=TENANT_SLUG, form_version=single.form_version
        )
    if "destination" in SELECTED:
        destination = kiosk_shop_make(DESTINATION_SLUG)
        destination_shop_make(port=sink_port)
    connections.close_all()
    support.writes_settle()
    return Shops(single=single, spread=spread, destination=destination)


def baseline_directory() -> Path:
    beside = Path(__file__).resolve().parents[2] / "shared" / "bench" / "baseline"
    if (beside / "bareapp.py").is_file():
        return beside
    named = os.environ.get("BENCH_BASELINE_DIR")
    if named and (Path(named) / "bareapp.py").is_file():
        return Path(named).resolve()
    raise BenchError(f"bare baseline not found at {beside} nor in BENCH_BASELINE_DIR")


def baseline_environment() -> dict[str, str]:
    environment = {
        key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"
    }
    environment["BASE_DB"] = BASELINE_DATABASE
    environment["PYTHONDONTWRITEBYTECODE"] = "1"  # the baseline's folder is read-only
    return environment


def baseline_prepare(directory: Path, environment: dict[str, str]) -> None:
    support.database_recreate(BASELINE_DATABASE)
    create_table = (
        "import bareapp\n"
        "from django.db import connection\n"
        "from bare.models import Signup\n"
        "with connection.schema_editor() as editor:\n"
        "    editor.create_model(Signup)\n"
    )
    subprocess.run(
        [sys.executable, "-c", create_table],
        cwd=directory,
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )


# --- measuring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One server under load: where wrk sends what, and which processes do the work."""

    server: Server
    database: str
    url: str
    script: Path
    environment: dict[str, str]
    warmup: str | None = None


def kiosk_weigh(port: int) -> float:
    """The kiosk's first-load weight in kB, with what it is made of printed above it."""
    kiosk_kb, resources = kiosk_first_load(port, TENANT_SLUG)
    worker = service_worker_extra(port, resources) if resources else []
    for item in resources + worker:
        print(
            f"kiosk {'sw-precache ' if item in worker else ''}{item.status} {item.url} "
            f"{item.content_type} {item.encoding} "
            f"body={item.body_bytes} B headers~{item.header_bytes} B",
            flush=True,
        )
    missing = [item.url for item in resources if item.status >= 400]
    if missing and not math.isnan(kiosk_kb):
        print(f"kiosk WARNING: {len(missing)} referenced file(s) missing: {missing}")
    if worker:
        worker_kb = sum(item.body_bytes + item.header_bytes for item in worker) / 1000
        print(f"kiosk first visit incl. service worker precache: {kiosk_kb + worker_kb:.1f} kB")
    return kiosk_kb


#: What the cluster's statistics count, read before and after each run (``pages_print``).
_PAGE_FIGURES = """
SELECT w.wal_records, w.wal_fpi, w.wal_bytes,
    (SELECT sum(blks_hit) FROM pg_stat_database), (SELECT sum(blks_read) FROM pg_stat_database),
    b.buffers_backend, b.buffers_clean, b.buffers_checkpoint
FROM pg_stat_wal AS w, pg_stat_bgwriter AS b
"""
_PAGE_NAMES = (
    "WAL records",
    "full-page images",
    "WAL bytes",
    "buffer hits",
    "buffer reads",
    "buffers written by backends",
    "by the background writer",
    "by checkpoints",
)


def pages_counted(admin: psycopg.Connection[tuple[Any, ...]]) -> tuple[int, ...]:
    """The cluster's page and WAL counters so far (``_PAGE_NAMES``)."""
    admin.execute("SELECT pg_stat_clear_snapshot()")
    row = admin.execute(_PAGE_FIGURES).fetchone()
    assert row is not None
    return tuple(int(value or 0) for value in row)


def pages_print(name: str, load: Load, before: tuple[int, ...], after: tuple[int, ...]) -> None:
    """What a run cost the database in pages and WAL, per request: a sign-up whose pages are
    not in shared_buffers reads them (from the OS cache at best), and one whose backend must
    write a dirty page out to make room pays for that write too; both grow with the shops
    served, where the CPU figures alone do not say why."""
    count = max(load.requests, 1)
    figures = ", ".join(
        f"{label} {(later - earlier) / count:.2f}"
        for label, later, earlier in zip(_PAGE_NAMES, after, before, strict=True)
    )
    print(f"--- {name}: per request: {figures}", flush=True)


def measure_rounds(targets: dict[str, Target]) -> tuple[dict[str, list[Load]], list[float]]:
    """ROUNDS measured runs of each target after one warm-up each, alternating the order;
    and the backends' memory after the many-tenant runs."""
    for name, target in targets.items():
        warm_up(
            name=name,
            url=target.url,
            script=target.script,
            environment=target.environment,
            duration=target.warmup,
        )
    measured: dict[str, list[Load]] = {name: [] for name in targets}
    memory: list[float] = []
    with support.admin_connect() as admin:
        for number in range(ROUNDS):
            # Alternate which goes first, so a machine slowly getting busier or quieter favours
            # no phase.
            order = list(targets) if number % 2 == 0 else list(reversed(targets))
            for name in order:
                target = targets[name]
                pages_before = pages_counted(admin)
                measured[name].append(
                    load_measure(
                        name=f"{name} round {number + 1}/{ROUNDS}",
                        url=target.url,
                        script=target.script,
                        environment=target.environment,
                        processes=functools.partial(
                            server_processes, target.server, target.database, admin
                        ),
                    )
                )
                pages_print(name, measured[name][-1], pages_before, pages_counted(admin))
                if name == "destination":
                    outbox_drain(support.database_url(DATABASE))
                if name == "tenants":
                    memory = backend_memory(admin, DATABASE, server_application("project"))
    return measured, memory


# --- main --------------------------------------------------------------------------------------


def targets_make(
    project: Server, baseline: Server, baseline_dir: Path, shops: Shops
) -> dict[str, Target]:
    url = f"http://127.0.0.1:{project.port}/api/kiosk/submissions"
    lua_env = {
        **os.environ,
        "BENCH_PORT": str(project.port),
        "BENCH_HOST": f"{TENANT_SLUG}.localhost",
        "BENCH_TOKEN": shops.single.token,
        "BENCH_FORM_VERSION": str(shops.single.form_version),
        "BENCH_MAX_BAD": str(MAX_BAD_SHARE),
    }
    targets: dict[str, Target] = {}
    if "single" in SELECTED:
        targets["project"] = Target(project, DATABASE, url, LUA_SCRIPT, lua_env)
    if shops.spread is not None:
        spread_env = {
            **lua_env,
            "BENCH_SPREAD": str(shops.spread.count),
            "BENCH_HOST_PREFIX": shops.spread.host_prefix,
            "BENCH_TOKEN_PREFIX": shops.spread.token_prefix,
        }
        targets["tenants"] = Target(
            project, DATABASE, url, LUA_SCRIPT, spread_env, warmup=TENANTS_WARMUP
        )
    if shops.destination is not None:
        destination_env = {
            **lua_env,
            "BENCH_HOST": f"{DESTINATION_SLUG}.localhost",
            "BENCH_TOKEN": shops.destination.token,
            "BENCH_FORM_VERSION": str(shops.destination.form_version),
        }
        targets["destination"] = Target(project, DATABASE, url, LUA_SCRIPT, destination_env)
    baseline_url = f"http://127.0.0.1:{baseline.port}/signup"
    baseline_script = baseline_dir / "post.lua"
    targets["baseline"] = Target(
        baseline, BASELINE_DATABASE, baseline_url, baseline_script, dict(os.environ)
    )
    return targets


def main() -> int:
    if not LUA_SCRIPT.is_file():
        print(f"FAILED: {LUA_SCRIPT} is missing", file=sys.stderr)
        return 1
    if shutil.which("wrk") is None:  # before the minutes of making shops, not after
        print("FAILED: wrk is not installed (Debian: apt install wrk)", file=sys.stderr)
        return 1
    unknown = set(SELECTED) - set(PHASES)
    if unknown or not SELECTED:
        print(f"FAILED: BENCH_PHASES takes some of {','.join(PHASES)}", file=sys.stderr)
        return 1
    salt = secrets.token_hex(4)
    project_env = project_environment(cache_prefix=f"bench-submissions-{salt}")
    baseline_dir = baseline_directory()
    baseline_env = baseline_environment()
    project = Server(
        "project",
        "customerinfo.wsgi:application",
        ROOT,
        server_environment("project", project_env),
        "/healthz",
    )
    baseline = Server(
        "baseline",
        "bareapp:application",
        baseline_dir,
        server_environment("baseline", baseline_env),
        "/hello",
    )
    # The CRM the destination shop's worker delivers to: the project's demo sink, served by a
    # server of its own. Served by the measured one, its requests were counted as the shop's
    # CPU and queued behind the load, so the worker fell behind and delivered through the
    # phases after.
    sink = Server(
        "sink",
        "customerinfo.wsgi:application",
        ROOT,
        server_environment("sink", project_env),
        "/healthz",
        workers=2,
        # A CRM keeps the worker's connection open from one contact to the next, as the
        # worker's pooled client expects; a sync server would make every POST a new connection.
        threads=4,
        niceness=BACKGROUND_NICENESS,
    )
    servers: list[Server] = []
    workers: list[support.Process] = []
    buffers_mb = shared_buffers_check()
    try:
        print(
            f"preparing {DATABASE} (migrate_tenants, tenants, stores, forms, tablets)", flush=True
        )
        shops = project_prepare(project_env, sink.port)
        print(f"preparing the baseline's database {BASELINE_DATABASE!r}", flush=True)
        baseline_prepare(baseline_dir, baseline_env)

        servers += [project, baseline]
        if shops.destination is not None:
            servers.append(sink)
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        if shops.destination is not None:
            workers = workers_start(project_env)
        print(f"project on :{project.port}, baseline on :{baseline.port}", flush=True)

        kiosk_kb = kiosk_weigh(project.port)
        measured, memory = measure_rounds(targets_make(project, baseline, baseline_dir, shops))
    except (BenchError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or ""
        print(f"FAILED: {error}\n{detail}", file=sys.stderr, flush=True)
        return 1
    finally:
        for process in workers:
            support.process_group_stop(process)
        for server in servers:
            server.stop()
        support.connections_close()
        for name in (DATABASE, BASELINE_DATABASE):
            support.database_drop(name)

    report(
        measured,
        kiosk_kb,
        memory,
        tenants=TENANTS,
        rounds=ROUNDS,
        shared_buffers_mb=buffers_mb,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
