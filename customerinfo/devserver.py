"""``make run``: the whole product on one laptop.

Migrates, makes sure the demo retailer exists, then runs the web server, a Celery worker and Celery
beat side by side until Ctrl-C, which stops all three. Meant to run inside
``python -m customerinfo.embedded``, which provides PostgreSQL and Redis when none are configured.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import django

DEMO_SLUG = "demo"
DEMO_OWNER_EMAIL = "owner@demo.example"
PORT = int(os.environ.get("PORT", "8000"))


def demo_credentials_file(data: Path) -> Path:
    return data / "demo-owner.txt"


def ensure_demo_tenant(*, data: Path) -> tuple[str, str]:
    """Creates the demo retailer on the first run; later runs find it and its saved password."""
    from tenants.models import Tenant
    from tenants.services import tenant_create, tenant_provision

    credentials = demo_credentials_file(data)
    tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
    if tenant is None:
        password = secrets.token_urlsafe(12)
        tenant_create(
            name="Demo Shop",
            slug=DEMO_SLUG,
            owner_email=DEMO_OWNER_EMAIL,
            owner_password=password,
            provision_now=True,
        )
        credentials.write_text(f"{DEMO_OWNER_EMAIL}\n{password}\n")
        credentials.chmod(0o600)
    elif not tenant.ready:
        tenant_provision(tenant_id=tenant.pk)
    email, password = credentials.read_text().split()
    return email, password


def start(command: list[str]) -> "subprocess.Popen[bytes]":
    # Each process in its own group, so Ctrl-C reaches them only through us, in order.
    return subprocess.Popen(command, start_new_session=True)  # noqa: S603


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customerinfo.settings")
    os.environ.setdefault("LOG_FORMAT", "text")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from customerinfo.embedded import data_dir

    call_command("migrate_tenants", verbosity=0)
    email, password = ensure_demo_tenant(data=data_dir())
    python = sys.executable
    processes = {
        "web": start([python, "manage.py", "runserver", f"0.0.0.0:{PORT}", "--noreload"]),
        "worker": start(
            [
                python,
                "-m",
                "celery",
                "-A",
                "customerinfo",
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
            ]
        ),
        "beat": start(
            [
                python,
                "-m",
                "celery",
                "-A",
                "customerinfo",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                str(data_dir() / "celerybeat-schedule"),
            ]
        ),
    }
    base = settings.BASE_DOMAIN
    print(
        f"""
CustomerInfo is running. Stop everything with Ctrl-C.

  Demo shop portal:  http://{DEMO_SLUG}.{base}:{PORT}/
      sign in as     {email}
      password       {password}
  Public site:       http://{base}:{PORT}/
  Health:            http://{base}:{PORT}/healthz   http://{base}:{PORT}/readyz
""",
        flush=True,
    )
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with code {process.returncode}; stopping the rest.")
                stopping, exit_code = True, 1
        time.sleep(0.5)
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    print("Stopped web, worker and beat.")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
