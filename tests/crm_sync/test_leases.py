"""The lease is the only claim: the CRM is called with no transaction open and no row locked.

A worker takes its rows in one short transaction and writes the answers in another
(crm_sync.services.claims). These tests look at what happens in between, from inside the CRM
call: what the database holds, what a second worker and the relay can do, what becomes of an
answer that arrives after the lease ran out, and of a worker that never answers.

Rows must be committed for real, so that another connection sees them: each test runs outside
the test transaction, in a tenant of its own, and a second worker is a thread with a database
connection of its own.
"""

import itertools
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm_sync import services
from crm_sync.models import Destination, DestinationState
from crm_sync.providers import Contact, Result
from crm_sync.providers.webhook import WebhookProvider, secret_generate
from outbox.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from outbox.services import deliveries_requeue
from tenants.models import Tenant
from tests.signup.browser import kiosk_tenant_create, kiosk_tenant_remove
from tests.signup.factories import Kiosk, kiosk_create

from .factories import deliveries_of, sign_up, webhook_destination
from .fakes.server import Reply
from .fakes.webhook import FakeWebhookReceiver

T = TypeVar("T")


@dataclass
class World:
    """A committed tenant with a store, a tablet and a webhook destination."""

    tenant: Tenant
    kiosk: Kiosk
    destination: Destination
    receiver: FakeWebhookReceiver
    #: What the relay (one group per destination) and wakes handed to Celery: no worker runs
    #: beside these tests.
    handed_out: list[dict[str, Any]]

    def send(self, ids: Sequence[int]) -> dict[str, int]:
        """One worker's run, in this thread."""
        report = services.deliveries_send(destination_id=self.destination.pk, ids=ids)
        return dict(report.counts)

    def send_elsewhere(self, ids: Sequence[int]) -> dict[str, int]:
        """Another worker's run, at the same time, on a connection of its own."""
        return in_another_worker(self.tenant, lambda: self.send(ids))

    def relayed(self) -> list[int]:
        """Runs the relay once; the ids it handed out."""
        self.handed_out.clear()
        services.deliveries_relay()
        return [delivery_id for task in self.handed_out for delivery_id in task["ids"]]


def in_another_worker(tenant: Tenant, work: Callable[[], T]) -> T:
    def run() -> T:
        try:
            with tenant_context(tenant):
                return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=60)


@pytest.fixture
def world(
    django_db_setup: None, django_db_blocker: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    handed_out: list[dict[str, Any]] = []
    monkeypatch.setattr("crm_sync.tasks.deliver.delay", lambda **task: handed_out.append(task))
    # The relay's tasks carry several destinations: each group is what one ``deliver`` took.
    monkeypatch.setattr(
        "crm_sync.tasks.deliver_due.delay", lambda **task: handed_out.extend(task["groups"])
    )
    slug = f"crm-leases-{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}"
    secret = secret_generate()
    with FakeWebhookReceiver(secrets=[secret]) as receiver, django_db_blocker.unblock():
        kiosk_tenant_create(slug)
        tenant = Tenant.objects.get(slug=slug)
        try:
            with tenant_context(tenant):
                kiosk = kiosk_create(code="leases")
                destination = webhook_destination(url=receiver.url + "/hooks", secret=secret)
                yield World(tenant, kiosk, destination, receiver, handed_out)
        finally:
            connections.close_all()
            kiosk_tenant_remove(slug)
            connections.close_all()


def during_the_call(
    monkeypatch: pytest.MonkeyPatch,
    *,
    before: Callable[[], None] = lambda: None,
    after: Callable[[], None] = lambda: None,
) -> None:
    """Runs ``before`` inside the first worker's CRM call, before its request goes out, and
    ``after`` once the CRM has answered it, before the worker writes anything. Later calls
    (another worker's, made from inside these) go through untouched."""
    real = WebhookProvider.send
    calls = itertools.count()

    def send(self: WebhookProvider, contacts: Sequence[Contact]) -> dict[int, Result]:
        first = next(calls) == 0
        if first:
            before()
        results = real(self, contacts)
        if first:
            after()
        return results

    monkeypatch.setattr(WebhookProvider, "send", send)


def lease_runs_out(row: Delivery) -> None:
    past = timezone.now() - timedelta(seconds=1)
    Delivery.objects.filter(pk=row.pk).update(lease_expires_at=past)


def test_the_relay_hands_out_an_abandoned_row_for_anyone_to_take(
    kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside the test transaction, like most tests (it also makes pytest-django set up the test
    database when this module runs alone: the tests below only borrow it)."""
    monkeypatch.setattr("crm_sync.tasks.deliver.delay", lambda **task: None)
    monkeypatch.setattr("crm_sync.tasks.deliver_due.delay", lambda **task: None)
    webhook_destination(url="https://crm.example/hooks")
    (row,) = deliveries_of(sign_up(kiosk))
    # Taken by a worker that died: its token stays, its lease ran out.
    Delivery.objects.filter(pk=row.pk).update(
        lease_token=uuid.uuid4(), lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert services.deliveries_relay() == 1
    row.refresh_from_db()
    assert row.lease_token is None, "handed out, not taken: the next worker may take it"
    assert row.lease_expires_at is not None
    assert row.lease_expires_at > timezone.now()


def test_a_requeue_takes_the_row_from_a_worker_still_sending_it(
    kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crm_sync.tasks.deliver.delay", lambda **task: None)
    monkeypatch.setattr("crm_sync.tasks.deliver_due.delay", lambda **task: None)
    webhook_destination(url="https://crm.example/hooks")
    submission_id = sign_up(kiosk)
    (row,) = deliveries_of(submission_id)
    Delivery.objects.filter(pk=row.pk).update(
        lease_token=uuid.uuid4(), lease_expires_at=timezone.now() + timedelta(minutes=1)
    )
    deliveries_requeue(
        submission_id=submission_id,
        form_id=kiosk.form.pk,
        location_id=kiosk.location.pk,
        now=timezone.now(),
    )
    row.refresh_from_db()
    # That worker's answer will find no token of its own, so it cannot mark the row done.
    assert (row.status, row.lease_token, row.lease_expires_at) == (
        DeliveryStatus.PENDING,
        None,
        None,
    )


def test_the_crm_is_called_with_no_transaction_open_and_no_row_locked(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    (row,) = deliveries_of(sign_up(world.kiosk))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone() or (None,)
    seen: dict[str, Any] = {}

    def look_from_elsewhere() -> None:
        with transaction.atomic():
            # NOWAIT: a lock held by the calling worker fails this at once.
            taken = Delivery.objects.select_for_update(nowait=True).get(pk=row.pk)
            seen["lease_token"] = taken.lease_token
            seen["lease_expires_at"] = taken.lease_expires_at
        with connection.cursor() as cursor:
            cursor.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [pid])
            (seen["worker_session"],) = cursor.fetchone() or (None,)

    def before() -> None:
        seen["in_atomic_block"] = connection.in_atomic_block
        in_another_worker(world.tenant, look_from_elsewhere)

    during_the_call(monkeypatch, before=before)
    assert world.send([row.pk]) == {"delivered": 1}
    assert seen["in_atomic_block"] is False
    # The claim was committed before the call: another connection sees the lease and token...
    assert seen["lease_token"] is not None
    assert seen["lease_expires_at"] > timezone.now()
    # ... while the worker's own session sits outside any transaction.
    assert seen["worker_session"] == "idle"
    row.refresh_from_db()
    assert row.status == DeliveryStatus.DELIVERED
    assert (row.lease_token, row.lease_expires_at) == (None, None)


def test_rows_being_sent_are_left_alone_by_other_workers_and_the_relay(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    (row,) = deliveries_of(sign_up(world.kiosk))
    lease_runs_out(row)  # due and free: the relay would hand the row out
    seen: dict[str, Any] = {}

    def before() -> None:
        seen["given its id"] = world.send_elsewhere([row.pk])
        seen["topping up"] = world.send_elsewhere([])
        seen["relay"] = world.relayed()

    during_the_call(monkeypatch, before=before)
    assert world.send([row.pk]) == {"delivered": 1}
    assert seen == {"given its id": {}, "topping up": {}, "relay": []}
    assert len(world.receiver.requests) == 1
    assert DeliveryAttempt.objects.filter(delivery_id=row.pk).count() == 1


def test_a_claim_never_waits_for_a_row_another_transaction_holds(world: World) -> None:
    """SKIP LOCKED: a row locked elsewhere (the relay handing it out, a pause) is skipped at
    once rather than waited for; it is still there for the next task."""
    first, second = deliveries_of(sign_up(world.kiosk)) + deliveries_of(sign_up(world.kiosk))
    locked = Delivery.objects.filter(pk=first.pk)

    def hold_and_send() -> dict[str, int]:
        with transaction.atomic():
            list(locked.select_for_update())
            return world.send_elsewhere([first.pk, second.pk])

    assert hold_and_send() == {"delivered": 1}
    assert Delivery.objects.get(pk=second.pk).status == DeliveryStatus.DELIVERED
    assert Delivery.objects.get(pk=first.pk).status == DeliveryStatus.PENDING
    assert world.send([first.pk]) == {"delivered": 1}


def test_a_worker_whose_lease_ran_out_mid_call_does_not_overwrite_the_new_owner(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    (row,) = deliveries_of(sign_up(world.kiosk))
    world.receiver.force(Reply(503, {"error": "slow and failing"}))
    seen: dict[str, Any] = {}

    def after() -> None:
        # The first worker has its 503 but took too long: the relay hands the row out again
        # and a second worker delivers it.
        lease_runs_out(row)
        seen["relay"] = world.relayed()
        seen["second worker"] = world.send_elsewhere(seen["relay"])

    during_the_call(monkeypatch, after=after)
    assert world.send([row.pk]) == {"lost": 1}
    assert seen == {"relay": [row.pk], "second worker": {"delivered": 1}}
    # The new owner's answer stands; the slow worker's 503 is not written over it.
    row.refresh_from_db()
    assert row.status == DeliveryStatus.DELIVERED
    assert row.attempts == 1
    assert row.last_status_code == 204
    outcomes = DeliveryAttempt.objects.filter(delivery_id=row.pk).values_list("outcome", flat=True)
    assert list(outcomes) == [AttemptOutcome.DELIVERED]
    # The CRM got the contact twice; its upsert keeps one.
    assert len(world.receiver.requests) == 2
    assert len(world.receiver.events) == 1


def test_a_pause_while_the_crm_is_called_wins_over_the_answer_in_flight(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    (row,) = deliveries_of(sign_up(world.kiosk))

    def after() -> None:
        services.destination_pause(destination=world.destination, reason="by hand", actor=None)

    during_the_call(monkeypatch, after=after)
    assert world.send([row.pk]) == {"lost": 1}
    row.refresh_from_db()
    assert row.status == DeliveryStatus.HELD
    assert row.attempts == 0
    world.destination.refresh_from_db()
    assert world.destination.state == DestinationState.PAUSED
    # Resumed, the row goes again; the CRM's upsert absorbs the second copy.
    assert services.destination_resume(actor=None, destination=world.destination) == 1
    assert world.send([row.pk]) == {"delivered": 1}
    assert len(world.receiver.events) == 1


class WorkerKilled(BaseException):
    """What a SIGKILL is to a worker: nothing after it runs (no ``except Exception`` sees it)."""


def test_a_worker_killed_mid_call_leaves_its_rows_to_be_sent_again_once_the_lease_runs_out(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    (row,) = deliveries_of(sign_up(world.kiosk))

    def die() -> None:
        raise WorkerKilled

    during_the_call(monkeypatch, after=die)  # the CRM stored the contact; we never heard
    with pytest.raises(WorkerKilled):
        world.send([row.pk])
    row.refresh_from_db()
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 0)
    assert row.lease_token is not None
    # Until its lease runs out, the row is the dead worker's: nobody sends it.
    assert world.relayed() == []
    assert world.send_elsewhere([row.pk]) == {}
    assert world.send_elsewhere([]) == {}
    lease_runs_out(row)
    assert world.relayed() == [row.pk]
    assert world.send_elsewhere([row.pk]) == {"delivered": 1}
    row.refresh_from_db()
    assert (row.status, row.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert len(world.receiver.requests) == 2
    assert len(world.receiver.events) == 1


def test_a_claim_of_several_calls_renews_its_lease_before_it_could_run_out(
    world: World, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """A webhook claim makes a call per contact, one after the other: once what is left of the
    lease might not outlast another call, the claim renews it, so the relay leaves the rows
    still to be sent alone and the answers are written."""
    # A lease no longer than a call at its longest: renewed before every call after the first.
    settings.CRM_DELIVERY_LEASE_SECONDS = 20
    rows = [row for _ in range(3) for row in deliveries_of(sign_up(world.kiosk))]
    seen: dict[str, Any] = {}

    def after() -> None:
        # The first call took the whole lease.
        for row in rows:
            lease_runs_out(row)

    def relay_during_the_second_call() -> None:
        seen["relay"] = world.relayed()

    during_the_call(monkeypatch, after=after)
    real = WebhookProvider.send
    calls = itertools.count()

    def send(self: WebhookProvider, contacts: Sequence[Contact]) -> dict[int, Result]:
        if next(calls) == 1:
            relay_during_the_second_call()
        return real(self, contacts)

    monkeypatch.setattr(WebhookProvider, "send", send)
    assert world.send([row.pk for row in rows]) == {"delivered": 3}
    assert seen == {"relay": []}
    assert len(world.receiver.events) == 3
