"""CRM delivery: latency at a steady rate, then how fast a backlog drains.

In one run:

1. recreates the scratch database ``customerinfo_bench_crm``, migrates it and makes 200 tenants
   (BENCH_QUIET_TENANTS), each with a store, the default form published, a paired tablet and a
   HubSpot destination; the first 10 take the load of every phase but the second;
2. starts a fake HubSpot in a process of its own (the test fake, answering each call in about
   20 ms and noting when each contact arrived), Celery beat (the relay) and the Celery worker as
   the README recommends for 2 cores (``--concurrency 4``, prefetch 1), on a Redis database of
   its own;
3. steady: stores sign-ups at 50/s for BENCH_STEADY_SECONDS (default 30) across the tenants,
   through ``signup.services.submission_create`` as the kiosk API does; latency is from the
   sign-up's commit to the fake CRM receiving the contact;
4. steady over 200 tenants: the same 50/s spread over all 200, each a quiet shop with a sign-up
   every 4 s, so nearly every delivery is its destination's only due row;
5. outage: the same steady load for BENCH_OUTAGE_SECONDS (default 60) plus 10 s either side,
   while the CRM answers 500 to every upsert for those 60 s. Each sign-up stored during the
   outage is timed from the end of the outage to its arrival: with the breaker holding
   deliveries back without spending attempts and a probe every few seconds, that is the time
   the CRM's return takes to reach everyone who waited;
6. backlog: stops the worker, stores 5,000 sign-ups (500 per tenant), starts the worker again
   and times until the CRM has received all of them (the worker sends them in batches);
7. stops everything, drops the database, and prints as its last line::

    steady_p50_s=0.4 steady_p99_s=0.9 steady_200_p50_s=0.4 steady_200_p99_s=1.0
    backlog_drain_per_s=1500 steady_rate=50.0 outage_60s_recovery_p50_s=9.1
    outage_60s_recovery_p99_s=14.2 cpu_ms_per_delivery=9.0 cpu_ms_per_delivery_200=12.0

``cpu_ms_per_delivery`` (and ``_200``) is the worker's CPU time over the steady phase (over 200
tenants) per delivery received: latency rises with whatever else the machine runs, this does
not, so it shows what many quiet shops cost against a few busy ones.

Run with ``uv run python bench/crm_delivery.py`` (PostgreSQL on 127.0.0.1:5432 as ``postgres``,
Redis on 127.0.0.1:6379; DATABASE_URL and REDIS_URL name other servers).
"""

import json
import math
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import support  # noqa: E402 - needs ROOT on the path, just above

DATABASE = "customerinfo_bench_crm"
TENANTS = 10
QUIET_TENANTS = int(os.environ.get("BENCH_QUIET_TENANTS", "200"))
STEADY_RATE = 50.0
STEADY_SECONDS = float(os.environ.get("BENCH_STEADY_SECONDS", "30"))
OUTAGE_SECONDS = float(os.environ.get("BENCH_OUTAGE_SECONDS", "60"))
#: Steady load before the outage starts and after it ends.
OUTAGE_MARGIN_SECONDS = 10.0
BACKLOG = 5000
LATENCY = 0.02
WORKER_CONCURRENCY = 4


def bench_redis_url() -> str:
    """The bench's own Redis database (BENCH_REDIS_DB, default 6), flushed at the start: its
    worker must not take another process's tasks, nor another process take its own."""
    return support.redis_url(os.environ.get("BENCH_REDIS_DB", "6"))


def serve_fake_crm(port_queue: Any) -> None:
    """The fake HubSpot, in its own process so it does not share a GIL with the bench."""
    from tests.crm_sync.fakes.hubspot import TOKEN, FakeHubSpot
    from tests.crm_sync.fakes.server import Reply, Request

    class TimedHubSpot(FakeHubSpot):
        def __init__(self) -> None:
            # Ten retailers' accounts behind one fake: a rate window no test of ours reaches.
            super().__init__(token=TOKEN, requests_per_window=100_000, latency=LATENCY)
            self.arrivals: dict[str, float] = {}
            #: While set, every upsert answers 500, as a CRM in an outage does.
            self.outage = False
            self.upserts = {"refused": 0, "contacts_refused": 0}

        def handle(self, request: Request) -> Reply:
            if request.path == "/__arrivals":
                return Reply(200, self.arrivals)
            if request.path == "/__outage":
                self.outage = request.query.get("on") == ["1"]
                return Reply(200, self.upserts)
            if self.outage and request.path.endswith("/batch/upsert"):
                self.upserts["refused"] += 1
                self.upserts["contacts_refused"] += len(request.json()["inputs"])
                return Reply(500, {"status": "error", "message": "internal error"})
            reply = super().handle(request)
            if request.path.endswith("/batch/upsert") and reply.status < 300:
                now = time.time()
                for item in request.json()["inputs"]:
                    self.arrivals.setdefault(item["id"].casefold(), now)
            return reply

    fake = TimedHubSpot().start()
    port_queue.put(fake.url)
    while True:  # until the bench terminates this process
        time.sleep(3600)


def arrivals(url: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{url}/__arrivals", timeout=30) as response:  # noqa: S310
        result: dict[str, float] = json.loads(response.read())
    return result


def outage(url: str, *, on: bool) -> dict[str, int]:
    """Starts or ends the fake CRM's outage; answers what it refused so far."""
    address = f"{url}/__outage?on={int(on)}"
    with urllib.request.urlopen(address, timeout=30) as response:  # noqa: S310
        refused: dict[str, int] = json.loads(response.read())
    return refused


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def outbox_statuses() -> dict[str, int]:
    from django.db.models import Count

    from outbox.models import Delivery

    return dict(Delivery.objects.values_list("status").annotate(Count("pk")).order_by())


def setup(crm_url: str) -> list[Any]:
    """QUIET_TENANTS provisioned tenants, each with a kiosk and a HubSpot destination."""
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from crm_sync.services import destination_create
    from tests.crm_sync.fakes.hubspot import TOKEN
    from tests.signup.factories import kiosk_create

    call_command("migrate_tenants", verbosity=0)
    kiosks = []
    for number in range(max(TENANTS, QUIET_TENANTS)):
        tenant = support.shop_create(name=f"Bench shop {number}", slug=f"bench{number}")
        with tenant_context(tenant):
            kiosk = kiosk_create(code="bench")
            destination_create(
                actor=None,
                name="HubSpot",
                kind="hubspot",
                settings={"base_url": crm_url},
                credentials={"access_token": TOKEN},
            )
        kiosks.append((tenant, kiosk))
    return kiosks


def sign_up(tenant: Any, kiosk: Any, email: str) -> float:
    """Stores one sign-up; returns the time its statement committed."""
    from django_tenants.utils import tenant_context

    from signup.services import submission_create

    with tenant_context(tenant):
        submission_create(
            device=kiosk.device,
            submission_id=uuid.uuid4(),
            form_version_id=kiosk.version.pk,
            locale="en",
            captured_at=datetime.now(UTC),
            answers={"email": email},
            consents={"email": True},
        )
    return time.time()


def paced(
    kiosks: list[Any], *, prefix: str, seconds: float, on_the_way: Any = None
) -> dict[str, float]:
    """Stores sign-ups at STEADY_RATE for ``seconds``; returns each one's commit time.

    ``on_the_way(elapsed)`` is called between sign-ups (the outage phase switches the CRM).
    """
    committed: dict[str, float] = {}
    started = time.monotonic()
    for number in range(int(STEADY_RATE * seconds)):
        # Paced to the rate: sign-up n is stored at start + n / rate.
        pause = started + number / STEADY_RATE - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        if on_the_way is not None:
            on_the_way(time.monotonic() - started)
        tenant, kiosk = kiosks[number % len(kiosks)]
        email = f"{prefix}-{number}@example.com"
        committed[email] = sign_up(tenant, kiosk, email)
    return committed


def outage_phase(crm_url: str, kiosks: list[Any]) -> tuple[list[float], str]:
    """Steady load with the CRM failing in the middle; each sign-up stored during the outage,
    timed from the end of the outage to its arrival, and a line on what happened."""
    moments: dict[str, float] = {}

    def switch(elapsed: float) -> None:
        if "start" not in moments and elapsed >= OUTAGE_MARGIN_SECONDS:
            outage(crm_url, on=True)
            moments["start"] = time.time()
        if "end" not in moments and elapsed >= OUTAGE_MARGIN_SECONDS + OUTAGE_SECONDS:
            moments["refused"] = outage(crm_url, on=False)["contacts_refused"]
            moments["end"] = time.time()

    committed = paced(
        kiosks[:TENANTS],
        prefix="outage",
        seconds=OUTAGE_SECONDS + 2 * OUTAGE_MARGIN_SECONDS,
        on_the_way=switch,
    )
    start, end = moments["start"], moments["end"]
    during = [email for email, moment in committed.items() if start <= moment < end]
    received = wait_for(crm_url, list(committed), timeout=OUTAGE_SECONDS + 240)
    recovery = [received[email] - end for email in during if email in received]
    latest = max((received[email] for email in committed if email in received), default=end)
    line = (
        f"outage: {len(committed)} sign-ups, {len(during)} during the {end - start:.0f} s "
        f"outage ({moments['refused']} contacts refused with 500), "
        f"{len(committed) - sum(email in received for email in committed)} not received; "
        f"the last arrived {latest - end:.1f} s after the outage ended"
    )
    return recovery, line


def attempts_summary() -> str:
    """How many attempts the deliveries spent, by outcome, and the most any one spent."""
    from django.db.models import Count, Max

    from outbox.models import Delivery, DeliveryAttempt

    outcomes = dict(DeliveryAttempt.objects.values_list("outcome").annotate(Count("pk")).order_by())
    most = Delivery.objects.aggregate(most=Max("attempts"))["most"]
    return f"attempts by outcome {outcomes}, at most {most} per delivery"


def steady_latencies(url: str, committed: dict[str, float]) -> list[float]:
    """From each sign-up's commit to its arrival at the CRM, for those that arrived."""
    received = wait_for(url, list(committed), timeout=60)
    return sorted(
        received[email] - moment for email, moment in committed.items() if email in received
    )


def wait_for(url: str, emails: list[str], *, timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        received = arrivals(url)
        if all(email in received for email in emails) or time.monotonic() > deadline:
            return received
        time.sleep(0.1)


def measure(crm_url: str, environment: dict[str, str], running: list[support.Process]) -> str:
    """The four phases, their figures printed as they come; returns the last line. The worker
    and beat it starts go into ``running``, for the caller to stop whatever happens."""
    kiosks = setup(crm_url)
    running.append(
        support.celery_beat_start(environment, Path(tempfile.mkdtemp()) / "beat-schedule")
    )
    worker = support.celery_worker_start(environment, concurrency=WORKER_CONCURRENCY)
    running.append(worker)
    time.sleep(3)  # the worker's start-up is not what is measured

    started = time.monotonic()
    cpu = support.process_group_cpu_seconds(worker.pid)
    committed = paced(kiosks[:TENANTS], prefix="steady", seconds=STEADY_SECONDS)
    steady_elapsed = time.monotonic() - started
    latencies = steady_latencies(crm_url, committed)
    cpu_ms = (support.process_group_cpu_seconds(worker.pid) - cpu) * 1000 / max(len(latencies), 1)
    missing = len(committed) - len(latencies)
    p50 = statistics.median(latencies)
    p99 = percentile(latencies, 0.99)
    steady_rate = len(latencies) / steady_elapsed

    print(
        f"steady over {TENANTS} tenants: {len(committed)} sign-ups, {missing} not received; "
        f"p50 {p50:.3f} s, p99 {p99:.3f} s; worker CPU {cpu_ms:.1f} ms a delivery",
        flush=True,
    )
    cpu = support.process_group_cpu_seconds(worker.pid)
    quiet = paced(kiosks, prefix="quiet", seconds=STEADY_SECONDS)
    quiet_latencies = steady_latencies(crm_url, quiet)
    quiet_cpu_ms = (
        (support.process_group_cpu_seconds(worker.pid) - cpu) * 1000 / max(len(quiet_latencies), 1)
    )
    print(
        f"steady over {len(kiosks)} tenants: {len(quiet)} sign-ups, "
        f"{len(quiet) - len(quiet_latencies)} not received; "
        f"p50 {statistics.median(quiet_latencies):.3f} s, "
        f"p99 {percentile(quiet_latencies, 0.99):.3f} s; "
        f"worker CPU {quiet_cpu_ms:.1f} ms a delivery",
        flush=True,
    )

    recovery, outage_line = outage_phase(crm_url, kiosks)
    print(f"{outage_line}; {attempts_summary()}", flush=True)

    support.process_group_stop(worker)
    backlog = [f"backlog-{number}@example.com" for number in range(BACKLOG)]
    for number, email in enumerate(backlog):
        tenant, kiosk = kiosks[number % TENANTS]
        sign_up(tenant, kiosk, email)
    drain_started = time.time()
    running.append(support.celery_worker_start(environment, concurrency=WORKER_CONCURRENCY))
    received = wait_for(crm_url, backlog, timeout=300)
    # Rows of the batches in flight at the last arrival commit a moment later.
    settle = time.monotonic() + 15
    while outbox_statuses().get("pending") and time.monotonic() < settle:
        time.sleep(0.2)
    moments = [received[email] for email in backlog if email in received]
    first, last = min(moments), max(moments)
    # From the first contact the new worker delivered to the last: the worker's own
    # start-up (a few seconds of imports) is not part of draining.
    drain_rate = len(moments) / max(last - first, 1e-3)
    print(
        f"steady: {len(committed)} sign-ups in {steady_elapsed:.1f} s, {missing} not received; "
        f"backlog: {len(moments)}/{BACKLOG} received in {last - first:.1f} s after the first "
        f"({last - drain_started:.1f} s after the worker was started); "
        f"outbox: {outbox_statuses()}",
        flush=True,
    )
    return (
        f"steady_p50_s={p50:.3f} steady_p99_s={p99:.3f} "
        f"steady_200_p50_s={statistics.median(quiet_latencies):.3f} "
        f"steady_200_p99_s={percentile(quiet_latencies, 0.99):.3f} "
        f"backlog_drain_per_s={drain_rate:.0f} steady_rate={steady_rate:.1f} "
        f"outage_{OUTAGE_SECONDS:.0f}s_recovery_p50_s={statistics.median(recovery):.1f} "
        f"outage_{OUTAGE_SECONDS:.0f}s_recovery_p99_s={percentile(recovery, 0.99):.1f} "
        f"cpu_ms_per_delivery={cpu_ms:.1f} cpu_ms_per_delivery_200={quiet_cpu_ms:.1f}"
    )


def main() -> int:
    redis = bench_redis_url()
    with support.scratch_database(DATABASE) as database:
        environment = support.project_environment(database, redis)
        support.django_setup(environment)
        support.redis_flush(redis)
        ports: Any = multiprocessing.get_context("spawn").Queue()
        fake = multiprocessing.get_context("spawn").Process(target=serve_fake_crm, args=(ports,))
        fake.start()
        running: list[support.Process] = []
        try:
            print(measure(ports.get(timeout=30), environment, running), flush=True)
        finally:
            for process in running:
                if process.poll() is None:
                    support.process_group_stop(process)
            fake.terminate()
            fake.join(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
