"""``make run``'s launcher, run for real against a scratch database: it serves, and stops."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from customerinfo.embedded import free_port

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


def _get(url: str, host: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": host})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_launcher_serves_the_demo_shop_and_stops_on_ctrl_c(
    scratch_database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": scratch_database_url,
        "CUSTOMERINFO_DATA_DIR": str(tmp_path),
        "CUSTOMERINFO_ENV": "development",
        "PORT": str(port),
    }
    environment.pop("PYTEST_VERSION", None)
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
        for _ in range(100):
            try:
                status, _body = _get(f"{base}/healthz", "localhost")
                break
            except OSError:
                time.sleep(0.1)
        assert status == 200
        status, body = _get(f"{base}/login/", f"demo.localhost:{port}")
        assert status == 200
        assert "Sign in to Demo Shop" in body
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert "Stopped web, worker and beat." in output
    assert process.returncode == 0
