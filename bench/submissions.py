"""Kiosk sign-up throughput against the bare Django baseline, and the kiosk's first-load weight.

In one run:

1. recreates the scratch database ``customerinfo_bench_submissions``, migrates it
   (``manage.py migrate_tenants``), and makes a tenant ``bench`` with one store, the default form
   published and one paired tablet;
2. serves the project (``gunicorn customerinfo.wsgi -w 4``, DEBUG off) and the bare baseline
   (``/work/shared/bench/baseline``: ``gunicorn bareapp -w 4`` on its own database);
3. loads each in turn with ``wrk -t2 -c16 -d15s --latency`` after a few seconds of warm-up: the
   project through ``bench/submissions.lua`` (POST /api/kiosk/submissions, a new sign-up every
   request, failing if more than 1 % are not 201), the baseline through its ``post.lua``; three
   rounds (``BENCH_ROUNDS``), alternating which server goes first; every figure is the median
   over the rounds, the ratio the median of each round's ratio;
4. while each run lasts, reads from /proc the CPU time the server's gunicorn processes and its
   PostgreSQL backends spend (``bench/submissions_cpu.py``): ``cpu_ratio`` is the baseline's CPU
   per request over the project's. It does not move with other work on the machine the way
   requests per second do, so it tells what the ratio is on a quiet machine;
5. weighs the kiosk's first load: GET /kiosk/ with ``Accept-Encoding: gzip, br`` and every
   same-origin script, stylesheet, manifest and ES module it pulls in; bytes as sent on the wire
   (compressed bodies plus response headers, the headers counted from the parsed response, so
   approximately), in kB of 1,000 bytes;
6. stops both servers, drops both databases, and prints as its last line::

    ratio=0.74 project_rps=1206 baseline_rps=1622 project_p99_ms=17.5 kiosk_first_load_kb=86.1 \
    cpu_ratio=0.72 rounds=3

Run with ``uv run python bench/submissions.py`` (PostgreSQL on 127.0.0.1:5432 as ``postgres``,
Redis on 127.0.0.1:6379). Environment knobs, for trying things out only: ``BENCH_DURATION``
(default ``15s``), ``BENCH_WARMUP`` (``3s``), ``BENCH_KIOSK_RATE_LIMIT`` (``1000000/s``),
``BENCH_BASELINE_DIR``, ``BENCH_BASELINE_DB`` (``bench``), ``DATABASE_URL`` (server and user of
the scratch database; its name is replaced).

Why the rate limit is ``1000000/s``: one benchmark tablet sends ~1,000 sign-ups a second, where a
real one stays under ``KIOSK_RATE_LIMIT`` (120/min); the limit is raised so every request is a
sign-up, not a 429. Every request is still counted against it as at any limit: in the process,
added to the shared Redis counter every 50 requests (a twentieth of the limit, at most 50).

What a project request does, so the figure can be read: gunicorn sync workers (as the Dockerfile
and the Helm chart run them; only the worker count differs, 4 here like the baseline), host
routing from a per-process cache, the kiosk fast path (``signup.submit_fast``),
the tablet and its count from the process's memory (``signup.devices``), one prepared INSERT
statement (sign-up and consents, checking the tablet is still paired; the shop has no CRM
destination, so the statement without the outbox) in autocommit. A tablet the process does not
remember (its first request, then every ``DEVICE_CACHE_SECONDS``) is also read from PostgreSQL.

Beside this script: bench/submissions_servers.py (gunicorn, wrk and reading its output) and
bench/submissions_weight.py (the first-load weighing).
"""

import functools
import math
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts bench/ first on the path: the repository goes before it, so that
# bench's modules and the project's packages import.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.submissions_cpu import process_tree  # noqa: E402 - needs ROOT on the path
from bench.submissions_servers import (  # noqa: E402 - needs ROOT on the path, just above
    MAX_BAD_SHARE,
    BenchError,
    Load,
    Server,
    load_measure,
    warm_up,
)
from bench.submissions_weight import kiosk_first_load, service_worker_extra  # noqa: E402

LUA_SCRIPT = ROOT / "bench" / "submissions.lua"
DATABASE = "customerinfo_bench_submissions"
BASELINE_DATABASE = os.environ.get("BENCH_BASELINE_DB", "bench")
TENANT_SLUG = "bench"
RATE_LIMIT = os.environ.get("BENCH_KIOSK_RATE_LIMIT", "1000000/s")
#: Measured runs of each server, alternated (project, baseline, baseline, project, ...).
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))

TARGET_RATIO, TARGET_P99_MS, TARGET_KIOSK_KB = 0.7, 50.0, 150.0


# --- databases ---------------------------------------------------------------------------------


def database_url(name: str) -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/customerinfo")
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _admin_connect() -> psycopg.Connection[tuple[object, ...]]:
    admin = database_url("postgres").replace("postgres://", "postgresql://", 1)
    return psycopg.connect(admin, autocommit=True)


def database_recreate(name: str) -> None:
    with _admin_connect() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def database_drop(name: str) -> None:
    with _admin_connect() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_processes(
    server: Server, database: str, admin: psycopg.Connection[tuple[object, ...]]
) -> dict[str, set[int]]:
    """The server's gunicorn processes and the PostgreSQL backends serving its database."""
    assert server.process is not None
    rows = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [database])
    return {
        "gunicorn": process_tree(server.process.pid),
        "postgres": {int(str(pid)) for (pid,) in rows.fetchall()},
    }


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


# --- the project's data ------------------------------------------------------------------------


@dataclass(frozen=True)
class Kiosk:
    token: str
    form_version: int


def project_environment(cache_prefix: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url(DATABASE),
        "DJANGO_SETTINGS_MODULE": "customerinfo.settings",
        "CUSTOMERINFO_ENV": "development",
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "KIOSK_RATE_LIMIT": RATE_LIMIT,
        # A key space of this run's own: no throttle history left by an earlier run.
        "CACHE_KEY_PREFIX": cache_prefix,
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def project_prepare(environment: dict[str, str]) -> Kiosk:
    database_recreate(DATABASE)
    subprocess.run(
        [sys.executable, "manage.py", "migrate_tenants"],
        cwd=ROOT,
        env=environment,
        check=True,
        capture_output=True,
        text=True,
    )
    os.environ.update(environment)
    import django

    django.setup()
    from django.db import connections
    from django_tenants.utils import tenant_context

    from signup import services
    from tenants.services import tenant_create

    tenant = tenant_create(
        name="Bench retailer",
        slug=TENANT_SLUG,
        owner_email="owner@bench.example",
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
    connections.close_all()
    return Kiosk(token=token, form_version=version.pk)


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
    database_recreate(BASELINE_DATABASE)
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


def measure_rounds(targets: dict[str, Target]) -> dict[str, list[Load]]:
    """ROUNDS measured runs of each target after one warm-up each, alternating the order."""
    for name, target in targets.items():
        warm_up(name=name, url=target.url, script=target.script, environment=target.environment)
    measured: dict[str, list[Load]] = {name: [] for name in targets}
    with _admin_connect() as admin:
        for number in range(ROUNDS):
            # Alternate which goes first, so a machine slowly getting busier or quieter favours
            # neither side.
            order = list(targets) if number % 2 == 0 else list(reversed(targets))
            for name in order:
                target = targets[name]
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
    return measured


def report(measured: dict[str, list[Load]], kiosk_kb: float) -> None:
    """The per-round figures, the targets, and the last line of medians."""
    # Each round's two runs are a minute apart at most: the ratio is taken per round, then the
    # median, so one disturbed run moves the figure less than a ratio of averages would.
    pairs = list(zip(measured["project"], measured["baseline"], strict=True))
    ratios = [ours.requests_per_second / bare.requests_per_second for ours, bare in pairs]
    cpu_ratios = [bare.cpu_ms_per_request / ours.cpu_ms_per_request for ours, bare in pairs]
    rounds = zip(ratios, cpu_ratios, strict=True)
    print("rounds: " + " ".join(f"{r:.2f}(cpu {c:.2f})" for r, c in rounds))
    ratio = median(ratios)
    project_rps = median([load.requests_per_second for load in measured["project"]])
    baseline_rps = median([load.requests_per_second for load in measured["baseline"]])
    project_p99 = median([load.p99_ms for load in measured["project"]])
    baseline_p99 = median([load.p99_ms for load in measured["baseline"]])
    checks = {
        f"ratio>={TARGET_RATIO}": ratio >= TARGET_RATIO,
        f"p99<{TARGET_P99_MS:.0f}ms": project_p99 < TARGET_P99_MS,
        f"kiosk<={TARGET_KIOSK_KB:.0f}kB": (not math.isnan(kiosk_kb))
        and kiosk_kb <= TARGET_KIOSK_KB,
    }
    print(
        "targets: " + " ".join(f"{k}:{'ok' if ok else 'MISSED'}" for k, ok in checks.items()),
        f"(baseline p99 {baseline_p99:.1f} ms)",
    )
    print(
        f"ratio={ratio:.2f} project_rps={project_rps:.0f} baseline_rps={baseline_rps:.0f} "
        f"project_p99_ms={project_p99:.1f} kiosk_first_load_kb={kiosk_kb:.1f} "
        f"cpu_ratio={median(cpu_ratios):.2f} rounds={ROUNDS}"
    )


# --- main --------------------------------------------------------------------------------------


def main() -> int:
    if not LUA_SCRIPT.is_file():
        print(f"FAILED: {LUA_SCRIPT} is missing", file=sys.stderr)
        return 1
    salt = secrets.token_hex(4)
    project_env = project_environment(cache_prefix=f"bench-submissions-{salt}")
    baseline_dir = baseline_directory()
    baseline_env = baseline_environment()
    servers: list[Server] = []
    try:
        print(f"preparing {DATABASE} (migrate_tenants, tenant, store, form, tablet)", flush=True)
        kiosk = project_prepare(project_env)
        print(f"preparing the baseline's database {BASELINE_DATABASE!r}", flush=True)
        baseline_prepare(baseline_dir, baseline_env)

        project = Server("project", "customerinfo.wsgi:application", ROOT, project_env, "/healthz")
        baseline = Server("baseline", "bareapp:application", baseline_dir, baseline_env, "/hello")
        servers += [project, baseline]
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        print(f"project on :{project.port}, baseline on :{baseline.port}", flush=True)

        kiosk_kb = kiosk_weigh(project.port)
        lua_env = {
            **os.environ,
            "BENCH_PORT": str(project.port),
            "BENCH_HOST": f"{TENANT_SLUG}.localhost",
            "BENCH_TOKEN": kiosk.token,
            "BENCH_FORM_VERSION": str(kiosk.form_version),
            "BENCH_MAX_BAD": str(MAX_BAD_SHARE),
        }
        project_url = f"http://127.0.0.1:{project.port}/api/kiosk/submissions"
        baseline_url = f"http://127.0.0.1:{baseline.port}/signup"
        measured = measure_rounds(
            {
                "project": Target(project, DATABASE, project_url, LUA_SCRIPT, lua_env),
                "baseline": Target(
                    baseline,
                    BASELINE_DATABASE,
                    baseline_url,
                    baseline_dir / "post.lua",
                    dict(os.environ),
                ),
            }
        )
    except (BenchError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or ""
        print(f"FAILED: {error}\n{detail}", file=sys.stderr, flush=True)
        return 1
    finally:
        for server in servers:
            server.stop()
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        for name in (DATABASE, BASELINE_DATABASE):
            database_drop(name)

    report(measured, kiosk_kb)
    return 0


if __name__ == "__main__":
    sys.exit(main())
