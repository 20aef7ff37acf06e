"""What the bench scripts share: scratch databases, the environment and Django set-up they run
the project with, ``manage.py`` and Celery in processes of their own, readings from /proc, and
the owner's test client timed over a page.

A library for the scripts beside it (run them, not this module). Every scratch database lives on
DATABASE_URL's server (default ``postgres@127.0.0.1:5432``), under a name of the bench's own, so
a run never touches the database the project is configured with.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/customerinfo"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
#: The owners' password in the scratch databases (long enough for the password validators).
OWNER_PASSWORD = "a-long-bench-password"  # noqa: S105 - a scratch database's
#: Celery worker options every bench starts its workers with: one task prefetched per process
#: (as the README recommends), and none of the cluster chatter a single worker does not need.
WORKER_OPTIONS = (
    "--prefetch-multiplier=1",
    "--loglevel=WARNING",
    "--without-heartbeat",
    "--without-mingle",
    "--without-gossip",
)

Process = subprocess.Popen[bytes]


# --- scratch databases --------------------------------------------------------------------------


def configured_database_url() -> str:
    """DATABASE_URL, or the local server's ``customerinfo`` database."""
    return os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


def database_url(name: str) -> str:
    """The URL of database ``name`` on DATABASE_URL's server, as DATABASE_URL's user."""
    return urlunsplit(urlsplit(configured_database_url())._replace(path=f"/{name}"))


def redis_url(database: str | None = None) -> str:
    """REDIS_URL (default the local server's database 0), on Redis database ``database`` when
    one is named: a bench that flushes its database or runs a worker takes one of its own."""
    url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    return url if database is None else urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def admin_connect() -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection to DATABASE_URL's server's ``postgres`` database: where the
    scratch databases are created and dropped, and their sessions looked at."""
    # psycopg takes ``postgresql://`` only; the project's URLs say ``postgres://``.
    url = database_url("postgres").replace("postgres://", "postgresql://", 1)
    return psycopg.connect(url, autocommit=True)


def writes_settle() -> None:
    """Puts everything written so far on disk: a CHECKPOINT (PostgreSQL writes and syncs every
    dirty page) and the kernel's own sync.

    Called after a bench has made its data and before it measures. Making 1,000 shops writes
    about 200,000 files; left to the next checkpoint, their sync (97 s seen here) and the
    kernel's writeback fell inside the measured runs and stalled commits (41 sign-ups a second
    with the cores idle, p99 over a second)."""
    with admin_connect() as admin:
        admin.execute("CHECKPOINT")
    os.sync()


def database_drop(name: str) -> None:
    """Drops database ``name`` if it exists, its open sessions ended (``WITH (FORCE)``)."""
    with admin_connect() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_recreate(name: str) -> None:
    """An empty database ``name``: whatever an earlier, interrupted run left there goes."""
    with admin_connect() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def connections_close() -> None:
    """Closes this process's Django connections, if Django was loaded: a database cannot be
    dropped under them without ending them, and ``FORCE`` would leave them broken."""
    if "django" in sys.modules:
        from django.db import connections

        connections.close_all()


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """Database ``name`` recreated empty; yields its URL. On the way out, even on an error or
    an interrupted run, Django's connections are closed and the database dropped."""
    database_recreate(name)
    try:
        yield database_url(name)
    finally:
        connections_close()
        database_drop(name)


# --- the project's environment ------------------------------------------------------------------


def project_environment(database: str, redis: str | None = None, **settings: str) -> dict[str, str]:
    """This process's environment, with the project pointed at ``database`` (and ``redis``, as
    cache and Celery broker, when given) in development mode, logging warnings only, and
    ``settings`` on top.

    PYTEST_VERSION is removed: run from a test, the settings would otherwise take themselves
    for a test run.
    """
    environment = {
        **os.environ,
        "DATABASE_URL": database,
        "CUSTOMERINFO_ENV": "development",
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "customerinfo.settings",
    }
    if redis is not None:
        environment["REDIS_URL"] = redis
        environment["CELERY_BROKER_URL"] = redis
    environment.update(settings)
    environment.pop("PYTEST_VERSION", None)
    return environment


def django_setup(environment: dict[str, str]) -> None:
    """Sets up Django in this process with ``environment`` (which becomes this process's)."""
    os.environ.update(environment)
    import django

    django.setup()


def redis_flush(url: str) -> None:
    """Empties the Redis database ``url`` names: tasks or keys an earlier run left there."""
    import redis

    redis.Redis.from_url(url).flushdb()


# --- processes ----------------------------------------------------------------------------------


def manage(environment: dict[str, str], *arguments: str) -> tuple[float, str]:
    """Runs ``manage.py <arguments>`` in the repository with ``environment``; returns its wall
    seconds and its last line of output. A failure stops the bench with the command's errors."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(arguments)} failed:\n{result.stderr[-4000:]}")
    lines = result.stdout.strip().splitlines()
    return seconds, lines[-1] if lines else ""


def niced(command: list[str], niceness: int) -> list[str]:
    """``command`` run at ``niceness`` (0: as is)."""
    return ["nice", "-n", str(niceness), *command] if niceness else command


def celery_start(
    arguments: list[str],
    environment: dict[str, str],
    *,
    stdout: IO[bytes] | int | None = None,
    niceness: int = 0,
) -> Process:
    """``celery -A customerinfo <arguments>`` in a session of its own, so that
    :func:`process_group_stop` ends it with every process it forked."""
    return subprocess.Popen(
        niced([sys.executable, "-m", "celery", "-A", "customerinfo", *arguments], niceness),
        cwd=ROOT,
        env=environment,
        stdout=stdout,
        start_new_session=True,
    )


def celery_worker_start(
    environment: dict[str, str],
    *,
    concurrency: int,
    stdout: IO[bytes] | int | None = None,
    niceness: int = 0,
) -> Process:
    """A Celery worker of ``concurrency`` processes with :data:`WORKER_OPTIONS`."""
    return celery_start(
        ["worker", f"--concurrency={concurrency}", *WORKER_OPTIONS],
        environment,
        stdout=stdout,
        niceness=niceness,
    )


def celery_beat_start(
    environment: dict[str, str], schedule: Path, *, stdout: IO[bytes] | int | None = None
) -> Process:
    """Celery beat, keeping its schedule in ``schedule``: the outbox relay runs from it."""
    return celery_start(
        ["beat", "--loglevel=WARNING", "--schedule", str(schedule)], environment, stdout=stdout
    )


def process_group_stop(process: Process, *, timeout: float = 30) -> None:
    """Ends the process group ``process`` leads (see :func:`celery_start`): SIGTERM, then
    SIGKILL after ``timeout`` seconds."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- /proc ----------------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def proc_stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat from the state on (``[0]`` state, ``[1]`` parent,
    ``[2]`` process group, ``[11]`` user and ``[12]`` system CPU ticks), or None once the
    process has ended."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # ended between listing and reading
        return None
    # The command name is in parentheses and may hold spaces: the fields start after it.
    return text[text.rindex(")") + 2 :].split()


def process_group_cpu_seconds(leader: int) -> float:
    """User plus system CPU seconds spent so far by the live processes of process group
    ``leader`` (a Celery worker's main process and its pool)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = proc_stat_fields(int(stat.parent.name))
        if fields is not None and int(fields[2]) == leader:
            total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def rss_anon_kb(pid: int) -> int | None:
    """``RssAnon`` of process ``pid`` in KiB: its own private memory (for a PostgreSQL backend,
    not the shared buffers it maps). None when the process is gone or not on this machine."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return None


# --- pages, through Django's test client --------------------------------------------------------


def shop_create(*, name: str, slug: str) -> Any:
    """A provisioned tenant ``slug`` whose owner, ``owner@<slug>.example``, has
    :data:`OWNER_PASSWORD`; returns the tenant."""
    from tenants.services import tenant_create

    return tenant_create(
        name=name,
        slug=slug,
        owner_email=f"owner@{slug}.example",
        owner_password=OWNER_PASSWORD,
        provision_now=True,
    )


def owner_client(tenant: Any) -> Any:
    """A test client on the tenant's host, signed in as its owner (see :func:`shop_create`)."""
    from django.test import Client
    from django_tenants.utils import tenant_context

    from customerinfo.core.accounts.models import User

    client = Client(HTTP_HOST=f"{tenant.slug}.localhost")
    with tenant_context(tenant):
        client.force_login(User.objects.get(email=f"owner@{tenant.slug}.example"))
    return client


def get_timings(
    client: Any, path: str, *, runs: int, query: dict[str, str] | None = None
) -> list[float]:
    """Milliseconds of each of ``runs`` GETs of ``path``, after one more to warm caches and
    connections; every answer must be a 200."""
    durations = []
    for run in range(runs + 1):
        started = time.perf_counter()
        response = client.get(path, query or {})
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (path, response.status_code)
        if run:
            durations.append(elapsed)
    return durations
