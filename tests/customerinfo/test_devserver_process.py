"""``make run``'s launcher, run for real against a scratch database: it serves, and stops."""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scratch_database_url() -> Iterator[str]:
    database = settings.DATABASES["default"]
    name = f"customerinfo_devserver_{os.getpid()}"
    admin = {
        "host": database.get("HOST") or database.get("OPTIONS", {}).get("host"),
        "port": database.get("PORT") or None,
        "user": database["USER"],
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**admin) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    host = admin["host"]
    port = f":{admin['port']}" if admin["port"] else ""
    if str(host).startswith("/"):
        yield f"postgres://{admin['user']}@/{name}?host={host}"
    else:
        yield f"postgres://{admin['user']}@{host}{port}/{name}"
    with psycopg.connect(**admin) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def quiet_port(avoid: int = 0) -> int:
    """A free port below Linux's ephemeral range (32768 up).

    The launcher binds its ports tens of seconds after they are chosen; a port from the
    ephemeral range could meanwhile be handed to anything in this run that binds port 0 (another
    worker's fake Stripe or live server), which would then answer the launcher's requests.
    """
    for _ in range(200):
        port = random.randint(20_000, 32_000)
        if port == avoid:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port below the ephemeral range")


def _get(url: str, host: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


_PAIR_TABLET = """
import django
django.setup()
from django_tenants.utils import tenant_context
from signup import services
from signup.models import Location
from tenants.models import Tenant
with tenant_context(Tenant.objects.get(slug="demo")):
    location = Location.objects.get(code="demo")
    _, code = services.pairing_code_create(actor=None, location=location, device_name="Till")
    print(services.device_pair(code=code)[1])
"""


def _demo_tablet(environment: dict[str, str]) -> str:
    """Pairs a tablet in the running demo shop (as the portal would) and returns its token."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", _PAIR_TABLET],
        cwd=ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "customerinfo.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _submit(url: str, host: str, token: str, email: str) -> int:
    form = json.loads(_get_with(url.replace("submissions", "form"), host, token))
    body = {
        "id": str(uuid.uuid4()),
        "form_version": form["version"],
        "locale": "en",
        "captured_at": datetime.now(UTC).isoformat(),
        "answers": {"email": email},
        "consents": {"email": True},
    }
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Host": host,
            "Authorization": f"Device {token}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return int(response.status)


def _get_with(url: str, host: str, token: str) -> str:
    request = urllib.request.Request(  # noqa: S310 - loopback only
        url, headers={"Host": host, "Authorization": f"Device {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return str(response.read().decode())


def test_launcher_serves_the_demo_shop_and_stops_on_ctrl_c(
    scratch_database_url: str, tmp_path: Path
) -> None:
    port = quiet_port()
    stripe_port = quiet_port(avoid=port)
    environment = {
        **os.environ,
        "DATABASE_URL": scratch_database_url,
        "CUSTOMERINFO_DATA_DIR": str(tmp_path),
        "CUSTOMERINFO_ENV": "development",
        "PORT": str(port),
        "STRIPE_FAKE_PORT": str(stripe_port),
        # A Redis database of its own: this launcher's worker must not see other tests' tasks.
        "REDIS_URL": settings.REDIS_URL.rsplit("/", 1)[0] + "/14",
    }
    environment.pop("PYTEST_VERSION", None)
    for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE"):
        environment.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "customerinfo.devserver"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        printed = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            printed.append(line)
            if "password" in line:
                break
        banner = "".join(printed)
        assert f"http://demo.localhost:{port}/" in banner, banner
        password = banner.split("password")[-1].strip()
        assert password == (tmp_path / "demo-owner.txt").read_text().split()[1]

        base = f"http://127.0.0.1:{port}"
        # The banner comes before gunicorn listens; on a loaded machine that takes seconds.
        listening = time.monotonic() + 60
        while True:
            try:
                status, _body = _get(f"{base}/healthz", "localhost")
                break
            except OSError:
                if time.monotonic() > listening:
                    raise
                time.sleep(0.2)
        assert status == 200
        status, body = _get(f"{base}/login/", f"demo.localhost:{port}")
        assert status == 200
        assert "Sign in to Demo Shop" in body
        # The whole path a newcomer sees: a tablet sign-up arrives, signed, at the demo sink.
        token = _demo_tablet(environment)
        email = f"newcomer-{port}@example.com"
        status = _submit(f"{base}/api/kiosk/submissions", f"demo.localhost:{port}", token, email)
        assert status == 201
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _status, sink = _get(f"{base}/sink/demo/", f"localhost:{port}")
            if email in sink:
                break
            time.sleep(0.2)
        assert email in sink
        assert "<td>valid</td>" in sink
        # Billing runs on the built-in fake Stripe: the pricing comes from its catalog.
        status, landing = _get(f"{base}/", f"localhost:{port}")
        assert status == 200
        assert "Start free trial" in landing
        assert "a month" in landing
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert "Stopped web, worker, beat, stripe." in output
    assert process.returncode == 0
