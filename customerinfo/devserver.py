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
DEMO_SINK_NAME = "Demo sink"
PORT = int(os.environ.get("PORT", "8000"))
#: Where the built-in fake Stripe listens when no STRIPE_SECRET_KEY is set.
STRIPE_FAKE_PORT = int(os.environ.get("STRIPE_FAKE_PORT", "12111"))


def stripe_fake_start() -> "subprocess.Popen[bytes] | None":
    """Without a Stripe key, the built-in fake Stripe, and the settings that point at it.

    Runs before Django reads its settings, so the web server, worker and beat (which inherit
    this environment) all use it. Returns None when a real key is configured.
    """
    if os.environ.get("STRIPE_SECRET_KEY"):
        return None
    secret = "whsec_" + secrets.token_hex(24)
    os.environ.update(
        {
            "STRIPE_SECRET_KEY": "sk_test_make_run",
            "STRIPE_WEBHOOK_SECRET": secret,
            "STRIPE_API_BASE": f"http://127.0.0.1:{STRIPE_FAKE_PORT}",
        }
    )
    base = os.environ.get("BASE_DOMAIN", "localhost")
    return start(
        [
            sys.executable,
            "-m",
            "billing.stripe_fake",
            "--port",
            str(STRIPE_FAKE_PORT),
            "--webhook-url",
            f"http://{base}:{PORT}/stripe/webhook/",
            "--webhook-secret",
            secret,
        ]
    )


def stripe_fake_ready(timeout: float = 15.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", STRIPE_FAKE_PORT), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the fake Stripe did not start on port {STRIPE_FAKE_PORT}")


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


def ensure_demo_store() -> None:
    """A store and a published form, so the demo kiosk works as soon as a tablet is paired."""
    from django_tenants.utils import tenant_context

    from signup import services
    from signup.definitions import default_definition
    from signup.models import Form, Location
    from tenants.models import Tenant

    with tenant_context(Tenant.objects.get(slug=DEMO_SLUG)):
        if not Location.objects.exists():
            services.location_create(
                actor=None, name="Demo store", code="demo", country="US", time_zone="UTC"
            )
        form = Form.objects.filter(is_default=True).first() or services.form_create(
            actor=None, name="Sign-up form", is_default=True, definition=default_definition()
        )
        if form.current_version is None:
            services.form_publish(actor=None, form=form)


def ensure_demo_sink(*, base_domain: str) -> str:
    """Points the demo shop's "Demo sink" webhook at this server's sink page; returns its URL.

    The sink learns the destination's signing secret, so it can show each event as verified.
    """
    from django_tenants.utils import tenant_context

    from crm_sync.crypto import credentials_decrypt
    from crm_sync.models import Destination
    from crm_sync.providers.webhook import secret_generate
    from crm_sync.services import destination_create
    from crm_sync.sink import sink_secret_key
    from customerinfo.core.redis import redis_client
    from tenants.models import Tenant

    url = f"http://{base_domain}:{PORT}/sink/{DEMO_SLUG}/"
    with tenant_context(Tenant.objects.get(slug=DEMO_SLUG)):
        destination = Destination.objects.filter(name=DEMO_SINK_NAME).first()
        if destination is None:
            destination = destination_create(
                actor=None,
                name=DEMO_SINK_NAME,
                kind="webhook",
                settings={"url": url},
                credentials={"secret": secret_generate()},
            )
        elif destination.settings.get("url") != url:
            # Another PORT than last time: follow it, or the demo's sign-ups would go nowhere.
            destination.settings = {**destination.settings, "url": url}
            destination.save(update_fields=["settings", "updated_at"])
        secret = credentials_decrypt(destination.credentials)["secret"]
    redis_client().set(sink_secret_key(DEMO_SLUG), secret)
    return url


def start(command: list[str]) -> "subprocess.Popen[bytes]":
    # Each process in its own group, so Ctrl-C reaches them only through us, in order.
    return subprocess.Popen(command, start_new_session=True)  # noqa: S603


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customerinfo.settings")
    os.environ.setdefault("LOG_FORMAT", "text")
    # Mail goes to the local mailbox page: invitation and password links work with no mail
    # server (customerinfo.core.mailbox). The worker and the web server inherit it.
    os.environ.setdefault("DEV_MAILBOX", "1")
    stripe_fake = stripe_fake_start()
    if stripe_fake is not None:
        stripe_fake_ready()
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from customerinfo.embedded import data_dir

    call_command("migrate_tenants", verbosity=0)
    email, password = ensure_demo_tenant(data=data_dir())
    ensure_demo_store()
    sink_url = ensure_demo_sink(base_domain=settings.BASE_DOMAIN)
    # The fake keeps nothing between runs, so its catalog is made again each time.
    call_command("billing_sync_catalog", verbosity=0)
    python = sys.executable
    processes: dict[str, subprocess.Popen[bytes]] = {
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
    if stripe_fake is not None:
        processes["stripe"] = stripe_fake
    base = settings.BASE_DOMAIN
    stripe_line = (
        f"  Fake Stripe:       http://127.0.0.1:{STRIPE_FAKE_PORT}/_fake/   (move its clock)\n"
        if stripe_fake is not None
        else ""
    )
    mailbox_line = (
        f"  Mailbox:           http://{base}:{PORT}/mail/   (invitations, password resets)\n"
        if settings.DEV_MAILBOX
        else ""
    )
    print(
        f"""
CustomerInfo is running. Stop everything with Ctrl-C.

  Demo shop portal:  http://{DEMO_SLUG}.{base}:{PORT}/
      sign in as     {email}
      password       {password}
  Kiosk:             http://{DEMO_SLUG}.{base}:{PORT}/kiosk/   (pair it from Tablets)
  CRM webhook sink:  {sink_url}   (sign-ups arrive here)
{mailbox_line}  Public site:       http://{base}:{PORT}/   (Start free trial signs up a new shop)
{stripe_line}  Health:            http://{base}:{PORT}/healthz   http://{base}:{PORT}/readyz
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
    print("Stopped " + ", ".join(processes) + ".")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
