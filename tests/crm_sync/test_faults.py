"""Faults: whatever breaks, each committed sign-up ends delivered or dead with a reason, once.

Two kinds of test here:
- with real processes: a Celery worker killed with SIGKILL in the middle of a CRM request, and
  Redis flushed with deliveries queued. Rows are committed for real (the worker is another
  process) in a tenant of their own, and the broker is a Redis database of their own;
- in-process, with the clock moved by rewriting ``next_attempt_at``: a CRM down for three days,
  a storm of 429s, a 401 that pauses and a resume that replays.
In all of them the fake CRM counts contact creations, so a duplicate would show.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connections
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm_sync import services
from crm_sync.models import Destination, DestinationState
from crm_sync.schedule import MAX_ATTEMPTS
from crm_sync.tasks import deliver, deliver_due
from customerinfo.celery import app
from customerinfo.core.redis import redis_client, redis_key
from outbox.models import Delivery, DeliveryStatus
from signup.services import submission_create
from tenants.models import Tenant
from tests.signup.browser import database_url, kiosk_tenant_create, kiosk_tenant_remove
from tests.signup.factories import Kiosk, kiosk_create

from .fakes.hubspot import TOKEN, FakeHubSpot
from .fakes.server import Reply

ROOT = Path(__file__).resolve().parents[2]
#: Short leases stand in for the minute a real relay would wait for a lost task or a dead worker.
LEASE_SECONDS = 2


def hubspot_destination(fake: FakeHubSpot) -> Destination:
    return services.destination_create(
        actor=None,
        name="HubSpot",
        kind="hubspot",
        settings={"base_url": fake.url},
        credentials={"access_token": TOKEN},
    )


def sign_ups(kiosk: Kiosk, count: int, *, prefix: str) -> list[str]:
    emails = [f"{prefix}-{number}@example.com" for number in range(count)]
    for email in emails:
        submission_create(
            device=kiosk.device,
            submission_id=uuid.uuid4(),
            form_version_id=kiosk.version.pk,
            locale="en",
            captured_at=datetime.now(UTC),
            answers={"email": email},
            consents={"email": True},
        )
    return emails


def wait_until(condition: Callable[[], bool], *, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


# --- with a real worker ------------------------------------------------------------------------


class Stack:
    """A committed tenant with a HubSpot destination, a broker of its own and Celery workers."""

    def __init__(self, tenant: Tenant, kiosk: Kiosk, fake: FakeHubSpot, broker: str) -> None:
        self.tenant = tenant
        self.kiosk = kiosk
        self.fake = fake
        self.broker = broker
        self.workers: list[subprocess.Popen[bytes]] = []

    def worker_start(self) -> "subprocess.Popen[bytes]":
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": self.broker,
            "CELERY_BROKER_URL": self.broker,
            # A worker leases the rows it sends, so a killed one's rows wait this long.
            "CRM_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
        }
        environment.pop("PYTEST_VERSION", None)
        environment["CUSTOMERINFO_ENV"] = "test"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "customerinfo",
                "worker",
                "--concurrency=2",
                "--loglevel=WARNING",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=ROOT,
            env=environment,
            start_new_session=True,
        )
        self.workers.append(process)
        return process

    def kill(self, process: "subprocess.Popen[bytes]") -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.kill(process)

    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for status in Delivery.objects.filter(tenant=self.tenant).values_list("status", flat=True):
            counts[status] = counts.get(status, 0) + 1
        return counts

    def relay_until_delivered(self, count: int, *, timeout: float) -> bool:
        """Runs the relay as beat would, until every delivery is delivered."""

        def done() -> bool:
            services.deliveries_relay()
            return self.statuses().get(DeliveryStatus.DELIVERED, 0) == count

        return wait_until(done, timeout=timeout, step=0.5)


@pytest.fixture
def stack(
    django_db_setup: None, django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> Iterator[Stack]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker.removeprefix("gw") or 0) % 4
    broker = settings.REDIS_URL.rsplit("/", 1)[0] + f"/{10 + index}"
    redis.Redis.from_url(broker).flushdb()
    settings.CRM_DELIVERY_LEASE_SECONDS = LEASE_SECONDS
    connection = app.connection_for_write(broker)

    # Wakes and the relay of this process publish to the stack's own broker.
    def publish(**kwargs: Any) -> None:
        # What apply_async(connection=...) makes inside Celery, in a form its stubs type.
        producer = app.amqp.Producer(connection, auto_declare=False)
        deliver.apply_async(kwargs=kwargs, producer=producer)

    def publish_due(**kwargs: Any) -> None:
        producer = app.amqp.Producer(connection, auto_declare=False)
        deliver_due.apply_async(kwargs=kwargs, producer=producer)

    monkeypatch.setattr(deliver, "delay", publish)
    monkeypatch.setattr(deliver_due, "delay", publish_due)
    slug = f"crm-faults-{worker}"
    fake = FakeHubSpot(token=TOKEN).start()
    with django_db_blocker.unblock():
        kiosk_tenant_create(slug)
        tenant = Tenant.objects.get(slug=slug)
        with tenant_context(tenant):
            kiosk = kiosk_create(code="faults")
            hubspot_destination(fake)
        stack = Stack(tenant, kiosk, fake, broker)
        try:
            with tenant_context(tenant):
                yield stack
        finally:
            stack.stop_all()
            fake.stop()
            connection.release()
            connections.close_all()
            kiosk_tenant_remove(slug)
            connections.close_all()


def test_a_worker_killed_mid_request_loses_and_duplicates_nothing(stack: Stack) -> None:
    stack.fake.delay = 2.0  # the CRM is slow: the kill lands while the request is in flight
    emails = sign_ups(stack.kiosk, 5, prefix="killed")
    services.deliveries_relay()  # beat's next run hands the new rows out
    first = stack.worker_start()
    assert wait_until(lambda: stack.fake.arrived > 0, timeout=60, step=0.05), (
        "no request reached the CRM"
    )
    stack.kill(first)
    # The CRM may still have written the contacts it was sent: we never heard its answer.
    stack.fake.delay = 0.02
    assert DeliveryStatus.DELIVERED not in stack.statuses()
    # The worker's claim was committed before its request: the rows wait out its lease, then
    # the relay hands them out again.
    taken = Delivery.objects.filter(tenant=stack.tenant, lease_token__isnull=False)
    assert taken.exists()
    stack.worker_start()
    assert stack.relay_until_delivered(5, timeout=90), stack.statuses()
    assert sorted(stack.fake.contacts) == sorted(emails)
    assert stack.fake.creates == 5


def test_redis_flushed_with_deliveries_queued_loses_nothing(stack: Stack) -> None:
    emails = sign_ups(stack.kiosk, 5, prefix="flushed")
    assert services.deliveries_relay() == 5
    # Every message the relay sent is gone before any worker saw it.
    redis.Redis.from_url(stack.broker).flushdb()
    stack.worker_start()
    assert stack.relay_until_delivered(5, timeout=90), stack.statuses()
    assert sorted(stack.fake.contacts) == sorted(emails)
    assert stack.fake.creates == 5


# --- in-process, with the clock moved ------------------------------------------------------------


@pytest.fixture
def hubspot() -> Iterator[FakeHubSpot]:
    fake = FakeHubSpot(token=TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def run_tasks_here(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """The relay's tasks run at once in this process (inside the test's transaction, which
    threads of their own could not see: one after the other)."""
    settings.CRM_SEND_THREADS = 1

    def run(**kwargs: Any) -> None:
        deliver.apply(kwargs=kwargs)

    def run_due(**kwargs: Any) -> None:
        deliver_due.apply(kwargs=kwargs)

    monkeypatch.setattr(deliver, "delay", run)
    monkeypatch.setattr(deliver_due, "delay", run_due)


def time_passes(*, destination: Destination) -> None:
    """Every wait is over: the rows are due, leases and the vendor's cool-down have run out."""
    past = timezone.now() - timedelta(seconds=1)
    Delivery.objects.filter(status=DeliveryStatus.PENDING).update(
        next_attempt_at=past, lease_expires_at=None
    )
    scope = f"{Tenant.objects.get(slug='alice').pk}:{destination.pk}"
    for part in ("cooldown", "breaker", "breaker-probe", "rate"):
        redis_client().delete(redis_key("crm", part, scope))


def outcome() -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in Delivery.objects.values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


@pytest.mark.usefixtures("run_tasks_here")
def test_a_crm_down_for_three_days_ends_dead_with_the_reason(
    kiosk: Kiosk, hubspot: FakeHubSpot
) -> None:
    destination = hubspot_destination(hubspot)
    sign_ups(kiosk, 3, prefix="down")
    hubspot.down = True
    # The schedule spans about three days; each round is one step of it.
    for _ in range(MAX_ATTEMPTS + 2):
        time_passes(destination=destination)
        services.deliveries_relay()
    assert outcome() == {DeliveryStatus.DEAD: 3}
    for delivery in Delivery.objects.all():
        assert delivery.attempts == MAX_ATTEMPTS
        assert delivery.last_error.startswith(f"Gave up after {MAX_ATTEMPTS} attempts")
    assert hubspot.creates == 0


@pytest.mark.usefixtures("run_tasks_here")
def test_a_crm_back_after_two_days_gets_everything_once(kiosk: Kiosk, hubspot: FakeHubSpot) -> None:
    destination = hubspot_destination(hubspot)
    emails = sign_ups(kiosk, 3, prefix="back")
    hubspot.down = True
    for _ in range(MAX_ATTEMPTS - 2):
        time_passes(destination=destination)
        services.deliveries_relay()
    hubspot.down = False
    time_passes(destination=destination)
    services.deliveries_relay()
    assert outcome() == {DeliveryStatus.DELIVERED: 3}
    assert sorted(hubspot.contacts) == sorted(emails)
    assert hubspot.creates == 3


@pytest.mark.usefixtures("run_tasks_here")
def test_a_429_storm_is_waited_out_without_duplicates(kiosk: Kiosk, hubspot: FakeHubSpot) -> None:
    destination = hubspot_destination(hubspot)
    emails = sign_ups(kiosk, 4, prefix="storm")
    storm = Reply(429, {"errorType": "RATE_LIMIT", "message": "slow down"}, {"Retry-After": "1"})
    hubspot.force(*[storm] * 6)
    rounds = 0
    while outcome() != {DeliveryStatus.DELIVERED: 4} and rounds < 20:
        time_passes(destination=destination)
        services.deliveries_relay()
        rounds += 1
    assert outcome() == {DeliveryStatus.DELIVERED: 4}
    assert sorted(hubspot.contacts) == sorted(emails)
    assert hubspot.creates == 4
    # A 429 is the vendor pacing us: attempts were spent, but none of them ran out.
    assert max(Delivery.objects.values_list("attempts", flat=True)) < MAX_ATTEMPTS


@pytest.mark.usefixtures("run_tasks_here")
def test_a_401_pauses_and_a_resume_replays_everything_once(
    kiosk: Kiosk, hubspot: FakeHubSpot
) -> None:
    destination = hubspot_destination(hubspot)
    hubspot.tokens.clear()  # the retailer revoked the private app's token
    emails = sign_ups(kiosk, 3, prefix="paused")
    time_passes(destination=destination)
    services.deliveries_relay()
    destination.refresh_from_db()
    assert destination.state == DestinationState.PAUSED
    assert outcome() == {DeliveryStatus.HELD: 3}
    # Sign-ups keep coming while paused; they wait too.
    emails += sign_ups(kiosk, 2, prefix="while-paused")
    assert outcome() == {DeliveryStatus.HELD: 5}
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {0}
    hubspot.tokens.add(TOKEN)  # fixed in HubSpot
    assert services.destination_resume(actor=None, destination=destination) == 5
    for _ in range(5):
        time_passes(destination=destination)
        services.deliveries_relay()
    assert outcome() == {DeliveryStatus.DELIVERED: 5}
    assert sorted(hubspot.contacts) == sorted(emails)
    assert hubspot.creates == 5
    # One batch carried them: the backlog went out together.
    assert len([r for r in hubspot.requests if r.path.endswith("/batch/upsert")]) <= 3


def test_a_backlog_goes_out_in_full_batches(kiosk: Kiosk, hubspot: FakeHubSpot) -> None:
    destination = hubspot_destination(hubspot)
    emails = sign_ups(kiosk, 30, prefix="backlog")
    first = Delivery.objects.order_by("pk").first()
    assert first is not None
    # One task, given one row, takes the rest of the due backlog with it.
    report = services.deliveries_send(destination_id=destination.pk, ids=[first.pk])
    assert dict(report.counts) == {"delivered": 30}
    assert len([r for r in hubspot.requests if r.path.endswith("/batch/upsert")]) == 1
    assert sorted(hubspot.contacts) == sorted(emails)
