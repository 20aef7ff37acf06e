"""A claim of several calls: a webhook takes one contact a call, and one claim makes up to
``WebhookProvider.calls_per_claim`` of them, one after the other, each within the destination's
limits as a claim of its own would be. The first call the CRM fails or defers, or that says the
destination is broken, is the claim's last: the rest go back untried, no attempt spent."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm_sync import services
from crm_sync.models import Destination, DestinationState
from crm_sync.providers.webhook import WebhookProvider
from outbox.models import Delivery, DeliveryAttempt, DeliveryStatus
from tests.signup.factories import Kiosk

from .factories import deliveries_of, sign_up
from .fakes.server import Reply
from .fakes.webhook import FakeWebhookReceiver

pytestmark = pytest.mark.django_db

CONTACTS = 5


@pytest.fixture
def rows(kiosk: Kiosk, destination: Destination) -> list[Delivery]:
    """Five due deliveries of one webhook destination, in the order they fell due."""
    made = [
        row
        for number in range(CONTACTS)
        for row in deliveries_of(sign_up(kiosk, email=f"shopper{number}@example.com"))
    ]
    # A claim tops up in the order rows fell due; make that order the order they were made.
    start = timezone.now() - timedelta(minutes=1)
    for number, row in enumerate(made):
        Delivery.objects.filter(pk=row.pk).update(next_attempt_at=start + timedelta(seconds=number))
    return made


def send(destination: Destination, rows: list[Delivery]) -> dict[str, int]:
    report = services.deliveries_send(destination_id=destination.pk, ids=[rows[0].pk])
    return dict(report.counts)


def untried(rows: list[Delivery]) -> list[Delivery]:
    """The rows still pending with no attempt spent, no lease and no log entry."""
    left = Delivery.objects.filter(
        pk__in=[row.pk for row in rows],
        status=DeliveryStatus.PENDING,
        attempts=0,
        lease_token=None,
        lease_expires_at=None,
    )
    return [row for row in left if not DeliveryAttempt.objects.filter(delivery=row).exists()]


def test_one_claim_sends_each_contact_in_a_call_of_its_own_and_reads_the_sign_ups_once(
    destination: Destination, receiver: FakeWebhookReceiver, rows: list[Delivery]
) -> None:
    assert WebhookProvider.calls_per_claim >= CONTACTS
    with CaptureQueriesContext(connection) as queries:
        assert send(destination, rows) == {"delivered": CONTACTS}
    assert len(receiver.requests) == CONTACTS
    assert len(receiver.events) == CONTACTS
    reads = [q for q in queries.captured_queries if 'FROM "signup_submission"' in q["sql"]]
    assert len(reads) == 1, "one claim, one read of its sign-ups"
    claims = [q for q in queries.captured_queries if "FOR UPDATE SKIP LOCKED" in q["sql"]]
    # The ids given, then the top-up, in one claim; then a second claim finds nothing left.
    assert len(claims) <= 4
    assert all(row.status == DeliveryStatus.DELIVERED for row in Delivery.objects.all())


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (Reply(429, {"error": "slow down"}, {"Retry-After": "30"}), "retry"),
        (Reply(503, {"error": "down"}), "retry"),
        (Reply(400, {"error": "bad email"}), "permanent"),
    ],
    ids=["asked-to-wait", "failing", "refused-for-good"],
)
def test_a_call_the_crm_fails_or_defers_is_the_claims_last(
    destination: Destination,
    receiver: FakeWebhookReceiver,
    rows: list[Delivery],
    reply: Reply,
    outcome: str,
) -> None:
    receiver.force(reply)
    report = send(destination, rows)
    first = Delivery.objects.get(pk=rows[0].pk)
    assert first.attempts == 1
    if outcome == "permanent":
        # A contact refused for good says nothing about the next: the claim goes on.
        assert report == {"permanent": 1, "delivered": CONTACTS - 1}
        assert len(receiver.requests) == CONTACTS
        return
    assert report == {"retry": 1, "deferred": CONTACTS - 1}
    assert len(receiver.requests) == 1, "the rest were not sent to a CRM in trouble"
    assert untried(rows[1:]) == rows[1:]


def test_a_broken_destination_holds_the_rest_of_the_claim_untried(
    destination: Destination, receiver: FakeWebhookReceiver, rows: list[Delivery]
) -> None:
    receiver.force(Reply(401, {"error": "bad credentials"}))
    assert send(destination, rows) == {"broken": 1, "held": CONTACTS - 1}
    assert len(receiver.requests) == 1
    destination.refresh_from_db()
    assert destination.state == DestinationState.PAUSED
    held = Delivery.objects.filter(pk__in=[row.pk for row in rows[1:]])
    assert {(row.status, row.attempts) for row in held} == {(DeliveryStatus.HELD, 0)}
