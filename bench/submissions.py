"""Kiosk sign-up throughput against the bare Django baseline, and the kiosk's first-load weight.

In one run:

1. recreates the scratch database ``customerinfo_bench_submissions``, migrates it
   (``manage.py migrate_tenants``), and makes a tenant ``bench`` with one store, the default form
   published and one paired tablet;
2. serves the project (``gunicorn customerinfo.wsgi -w 4``, DEBUG off) and the bare baseline
   (``/work/shared/bench/baseline``: ``gunicorn bareapp -w 4`` on its own database);
3. loads each in turn with ``wrk -t2 -c16 -d15s --latency`` after a few seconds of warm-up: the
   project through ``bench/submissions.lua`` (POST /api/kiosk/submissions, a new sign-up every
   request, failing if more than 1 % are not 201), the baseline through its ``post.lua``;
4. weighs the kiosk's first load: GET /kiosk/ with ``Accept-Encoding: gzip, br`` and every
   same-origin script, stylesheet, manifest and ES module it pulls in; bytes as sent on the wire
   (compressed bodies plus response headers, the headers counted from the parsed response, so
   approximately), in kB of 1,000 bytes;
5. stops both servers, drops both databases, and prints as its last line::

    ratio=0.79 project_rps=1508 baseline_rps=1909 project_p99_ms=14.8 kiosk_first_load_kb=62.7

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
"""

import gzip
import http.client
import importlib
import math
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urljoin, urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
LUA_SCRIPT = ROOT / "bench" / "submissions.lua"
DATABASE = "customerinfo_bench_submissions"
BASELINE_DATABASE = os.environ.get("BENCH_BASELINE_DB", "bench")
TENANT_SLUG = "bench"
WORKERS = 4
THREADS, CONNECTIONS = 2, 16
DURATION = os.environ.get("BENCH_DURATION", "15s")
WARMUP = os.environ.get("BENCH_WARMUP", "3s")
RATE_LIMIT = os.environ.get("BENCH_KIOSK_RATE_LIMIT", "1000000/s")
#: Share of answers that may be something else than 201 (project) or 2xx (baseline).
MAX_BAD_SHARE = 0.01
KIOSK_PATH = "/kiosk/"

TARGET_RATIO, TARGET_P99_MS, TARGET_KIOSK_KB = 0.7, 50.0, 150.0


class BenchError(RuntimeError):
    """The benchmark could not measure what it set out to (a server, a load run, a check)."""


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
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
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


# --- servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    app: str
    directory: Path
    environment: dict[str, str]
    ready_path: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None

    def start(self) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix=f"bench-{self.name}-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                self.app,
                "-w",
                str(WORKERS),
                "-b",
                f"127.0.0.1:{self.port}",
                "--log-level",
                "warning",
            ],
            cwd=self.directory,
            env=self.environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise BenchError(f"{self.name} server exited; see {self.log_path}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", self.ready_path)
                status = connection.getresponse().status
                connection.close()
            except OSError:
                status = 0
            if status == 200:
                return
            time.sleep(0.2)
        raise BenchError(f"{self.name} server not ready in {timeout:.0f} s; see {self.log_path}")

    @property
    def log_path(self) -> str:
        return self.log.name if self.log is not None else "-"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # gunicorn's master stops its workers
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # its own session: only its workers
                self.process.wait()
        if self.log is not None:
            self.log.close()


# --- load --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    requests_per_second: float
    p99_ms: float
    output: str


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk_parse(output: str) -> Load:
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    p99 = re.search(r"^\s*99(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if rps is None or p99 is None:
        raise BenchError(f"could not read wrk's output:\n{output}")
    return Load(float(rps.group(1)), float(p99.group(1)) * _UNIT_MS[p99.group(2)], output)


def wrk_run(
    *, name: str, url: str, script: Path, duration: str, environment: dict[str, str]
) -> Load:
    command = [
        "wrk",
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{duration}",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise BenchError(f"wrk against {name} failed (exit {result.returncode}):\n{output}")
    load = wrk_parse(output)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    non2xx = re.search(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", output, re.MULTILINE)
    if total and non2xx and int(non2xx.group(1)) > MAX_BAD_SHARE * int(total.group(1)):
        raise BenchError(f"{name}: too many non-2xx answers:\n{output}")
    return load


def load_measure(*, name: str, url: str, script: Path, environment: dict[str, str]) -> Load:
    print(f"--- {name}: warm-up {WARMUP}", flush=True)
    wrk_run(
        name=name,
        url=url,
        script=script,
        duration=WARMUP,
        environment={**environment, "BENCH_SALT": secrets.token_hex(4)},
    )
    print(
        f"--- {name}: {THREADS} threads, {CONNECTIONS} connections, {DURATION} "
        f"(load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
        "other work on this machine skews the ratio)",
        flush=True,
    )
    load = wrk_run(
        name=name,
        url=url,
        script=script,
        duration=DURATION,
        environment={**environment, "BENCH_SALT": secrets.token_hex(4)},
    )
    print(load.output.rstrip(), flush=True)
    return load


# --- kiosk first load --------------------------------------------------------------------------

_SCRIPT_SRC = re.compile(r"<script\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_LINK_HREF = re.compile(r"<link\b[^>]*?\bhref\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
# import x from "..."; import {a, b} from "..."; import "..."; export {a} from "..."
_ES_IMPORT = re.compile(
    r"""(?:^|[;\s}])(?:import|export)\s*(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"'\n]+)["']""",
    re.MULTILINE,
)
_SW_REGISTER = re.compile(r"""serviceWorker\s*\.\s*register\(\s*["'`]([^"'`]+)["'`]""")
#: Same-origin paths quoted in a service worker (its precache list), fetched on its install.
_QUOTED_PATH = re.compile(r"""["'`](/(?:kiosk|static)/[^"'`\s]*)["'`]""")
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*["']?([^"')\s;]+)""", re.IGNORECASE)


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    body_bytes: int
    header_bytes: int
    content_type: str
    encoding: str
    text: str
    location: str = ""


def _decode(body: bytes, encoding: str) -> bytes | None:
    if encoding in ("", "identity"):
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        try:
            brotli = importlib.import_module("brotli")  # optional: only if the server sends br
        except ImportError:
            return None
        decoded: bytes = brotli.decompress(body)
        return decoded
    return None


def http_get(port: int, url: str, host: str, accept_encoding: str = "gzip, br") -> Fetched:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host, "Accept-Encoding": accept_encoding})
        response = connection.getresponse()
        body = response.read()  # http.client leaves Content-Encoding alone: these are wire bytes
        headers = response.getheaders()
    finally:
        connection.close()
    status_line = len(f"HTTP/1.1 {response.status} {response.reason}\r\n")
    header_bytes = status_line + sum(len(k) + len(v) + 4 for k, v in headers) + 2
    encoding = (response.getheader("Content-Encoding") or "").strip().lower()
    decoded = _decode(body, encoding)
    if decoded is None:  # e.g. brotli and no decoder here: ask again, only to read it
        decoded = http_get(port, url, host, accept_encoding="identity").text.encode()
    return Fetched(
        url=url,
        status=response.status,
        body_bytes=len(body),
        header_bytes=header_bytes,
        content_type=(response.getheader("Content-Type") or "").split(";")[0].strip(),
        encoding=encoding or "identity",
        text=decoded.decode("utf-8", errors="replace"),
        location=response.getheader("Location") or "",
    )


def _references(fetched: Fetched) -> list[str]:
    kind, url = fetched.content_type, urlsplit(fetched.url).path
    found: list[str] = []
    if kind == "text/html":
        found += _SCRIPT_SRC.findall(fetched.text) + _LINK_HREF.findall(fetched.text)
        found += _ES_IMPORT.findall(fetched.text)  # inline <script type="module">
    elif "javascript" in kind or url.endswith((".js", ".mjs")):
        found += _ES_IMPORT.findall(fetched.text)
    elif kind == "text/css" or url.endswith(".css"):
        found += _CSS_IMPORT.findall(fetched.text)
    # Bare specifiers ("lit") would need an import map; only URLs and paths are followed.
    return [ref for ref in found if ref.startswith(("/", "./", "../", "http:", "https:"))]


def service_worker_extra(port: int, fetched: list[Fetched]) -> list[Fetched]:
    """What installing the kiosk's service worker adds to a first visit: itself and whatever of
    its precache list the page did not load already. Reported beside, not in, the figure."""
    if not fetched:
        return []
    origin, host = _origin(fetched[0].url), urlsplit(fetched[0].url).netloc
    seen = {item.url for item in fetched}
    extra: list[Fetched] = []
    for item in fetched:
        for reference in _SW_REGISTER.findall(item.text):
            worker_url = urljoin(item.url, reference)
            if not worker_url.startswith(origin + "/") or worker_url in seen:
                continue
            seen.add(worker_url)
            worker = http_get(port, worker_url, host)
            extra.append(worker)
            for path in _QUOTED_PATH.findall(worker.text):
                target = origin + path
                if target not in seen:
                    seen.add(target)
                    extra.append(http_get(port, target, host))
    return extra


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def kiosk_first_load(port: int) -> tuple[float, list[Fetched]]:
    """kB (1,000 bytes) transferred for the kiosk page and what it loads; nan if not served."""
    host = f"{TENANT_SLUG}.localhost:{port}"
    origin = f"http://{host}"
    url = origin + KIOSK_PATH
    page = http_get(port, url, host)
    redirects: list[Fetched] = []
    while page.status in (301, 302, 303, 307, 308) and page.location and len(redirects) < 5:
        url = urljoin(url, page.location)  # same-origin redirects, e.g. /kiosk/ -> /kiosk/pair
        if not url.startswith(origin + "/"):
            break
        redirects.append(page)
        page = http_get(port, url, host)
    if page.status != 200:
        return math.nan, [page]
    fetched, queue, seen = [*redirects, page], [page], {page.url}
    while queue:
        current = queue.pop(0)
        for reference in _references(current):
            target = urljoin(current.url, reference).split("#")[0]
            if not target.startswith(origin + "/") or target in seen:
                continue
            seen.add(target)
            resource = http_get(port, target, host)
            fetched.append(resource)
            queue.append(resource)
    total = sum(item.body_bytes + item.header_bytes for item in fetched)
    return total / 1000, fetched


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

        kiosk_kb, resources = kiosk_first_load(project.port)
        worker = service_worker_extra(project.port, resources) if resources else []
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

        lua_env = {
            **os.environ,
            "BENCH_PORT": str(project.port),
            "BENCH_HOST": f"{TENANT_SLUG}.localhost",
            "BENCH_TOKEN": kiosk.token,
            "BENCH_FORM_VERSION": str(kiosk.form_version),
            "BENCH_MAX_BAD": str(MAX_BAD_SHARE),
        }
        ours = load_measure(
            name="project",
            url=f"http://127.0.0.1:{project.port}/api/kiosk/submissions",
            script=LUA_SCRIPT,
            environment=lua_env,
        )
        bare = load_measure(
            name="baseline",
            url=f"http://127.0.0.1:{baseline.port}/signup",
            script=baseline_dir / "post.lua",
            environment=dict(os.environ),
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

    ratio = ours.requests_per_second / bare.requests_per_second
    checks = {
        f"ratio>={TARGET_RATIO}": ratio >= TARGET_RATIO,
        f"p99<{TARGET_P99_MS:.0f}ms": ours.p99_ms < TARGET_P99_MS,
        f"kiosk<={TARGET_KIOSK_KB:.0f}kB": (not math.isnan(kiosk_kb))
        and kiosk_kb <= TARGET_KIOSK_KB,
    }
    print(
        "targets: " + " ".join(f"{k}:{'ok' if ok else 'MISSED'}" for k, ok in checks.items()),
        f"(baseline p99 {bare.p99_ms:.1f} ms)",
    )
    print(
        f"ratio={ratio:.2f} project_rps={ours.requests_per_second:.0f} "
        f"baseline_rps={bare.requests_per_second:.0f} project_p99_ms={ours.p99_ms:.1f} "
        f"kiosk_first_load_kb={kiosk_kb:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
