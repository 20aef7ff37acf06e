"""Claims: how a worker takes deliveries to send, and writes back what the CRM answered.

The lease is the only claim: no row stays locked beyond two short transactions. Each batch goes
through three steps, and only the first and the last touch the database:

1. a short transaction takes the rows (``FOR UPDATE SKIP LOCKED``: two workers never wait on
   each other), gives them a lease of ``CRM_DELIVERY_LEASE_SECONDS`` and a token of this
   worker's own, and commits;
2. the CRM is called with no transaction open and no row locked. A call may last 15 s
   (crm_sync.http); a transaction held across it would keep a database connection idle in
   transaction that long, and its locks would make the relay, a pause or a replay skip or wait
   for rows that only need a note saying who is sending them;
3. a second short transaction writes the answers (delivered, retried, dead, held or deferred,
   with the attempts) to the rows whose token is still this worker's, and to no other.

Why a token as well as the lease: the fast path and the relay hand rows out with a lease too,
so that the relay leaves them alone while their task waits in the queue, and any worker may take
a handed-out row (a task tops its batch up with the destination's due backlog). A row a worker
has taken carries its token, and the others leave it alone until its lease runs out.

A worker killed mid-call writes nothing: its rows stay pending until their lease runs out, then
the relay hands them out again. The CRM may get a contact twice; its write is an upsert, which
absorbs that. A worker that is only slow, past its lease, may find its rows taken over meanwhile
(the token changed): its answer is dropped and counted as ``lost``, and the new owner's stands.
A pause, a replay or a requeue that changes a row being sent clears its token too, so the change
wins over the answer in flight. A lease outlasts one CRM call at its longest; a claim of several
calls (a vendor taking one contact a call, ``sending``) renews it between calls before it could
run out (``claim_extend``).
"""

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from customerinfo.core.tenancy import current_tenant_id
from outbox.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from outbox.services import lease_until

logger = logging.getLogger(__name__)

#: Report keys besides the attempt outcomes: back to the outbox without an attempt, and answers
#: dropped because the row had been taken over meanwhile.
DEFERRED = "deferred"
LOST = "lost"
#: Outcomes of rows that did not go through: retried, or deferred (breaker, cool-down, rate
#: limit); ``skipped`` is what older releases wrote for a breaker that was open. After one, a
#: worker makes no further call for the destination in that round.
TROUBLES = frozenset({AttemptOutcome.RETRY, AttemptOutcome.SKIPPED, DEFERRED})
#: A claim's answers, one statement for the whole batch, landing only on the rows whose token
#: is still the worker's. One array per column: Django's ``bulk_update`` builds a CASE per row
#: and column, about 100 ms of a worker's CPU for a batch of 100, ten times this statement;
#: that, not the CRM, bounded how fast a backlog drained.
#: Rows it marks delivered are added to their destination's tally in the same statement
#: (outbox.models.DeliveryTally), which /metrics and the portal read instead of counting.
_WRITE = """
WITH written AS (
UPDATE public.crm_outbox_delivery AS delivery
SET status = answer.status, attempts = answer.attempts,
    next_attempt_at = answer.next_attempt_at, last_status_code = answer.last_status_code,
    last_error = answer.last_error, updated_at = answer.updated_at,
    delivered_at = answer.delivered_at, lease_expires_at = NULL, lease_token = NULL
FROM unnest(
    %s::bigint[], %s::text[], %s::integer[], %s::timestamptz[], %s::integer[], %s::text[],
    %s::timestamptz[], %s::timestamptz[]
) AS answer (
    id, status, attempts, next_attempt_at, last_status_code, last_error, updated_at,
    delivered_at
)
WHERE delivery.id = answer.id AND delivery.lease_token = %s AND delivery.status = 'pending'
RETURNING delivery.id, delivery.tenant_id, delivery.destination_id, delivery.status
), tally AS (
INSERT INTO public.crm_outbox_deliverytally AS tally (tenant_id, destination_id, delivered)
SELECT tenant_id, destination_id, count(*) FROM written WHERE status = 'delivered'
GROUP BY tenant_id, destination_id
ON CONFLICT (tenant_id, destination_id)
DO UPDATE SET delivered = tally.delivered + EXCLUDED.delivered
)
SELECT id FROM written
"""


@dataclass
class SendReport:
    """What one run of ``deliveries_send`` did, by outcome."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, outcome: str, count: int = 1) -> None:
        self.counts[outcome] += count

    def troubles(self) -> int:
        """Rows that did not go through (``TROUBLES``)."""
        return sum(self.counts.get(outcome, 0) for outcome in TROUBLES)


@dataclass
class Claim:
    """Rows one worker took for one CRM call, and what it will write to them."""

    #: Proves the rows are still this worker's when it writes (see the module's docstring).
    token: uuid.UUID
    rows: list[Delivery]
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    #: What the report counts for each row once written; a row not named here is not counted.
    outcomes: dict[int, str] = field(default_factory=dict)


def claimable_q(*, tenant_id: int, destination_id: int, now: datetime) -> Q:
    """The rows of a destination a worker may take: pending, and handed out but not taken (no
    token), or taken by a worker whose lease ran out or was cleared (killed, or too slow)."""
    free = (
        Q(lease_token__isnull=True)
        | Q(lease_expires_at__isnull=True)
        | Q(lease_expires_at__lte=now)
    )
    return free & Q(
        tenant_id=tenant_id, destination_id=destination_id, status=DeliveryStatus.PENDING
    )


def claimable(row: Delivery, *, tenant_id: int, destination_id: int, now: datetime) -> bool:
    """``claimable_q`` for a row already read (tests/crm_sync/test_claims.py holds them equal)."""
    free = row.lease_token is None or row.lease_expires_at is None or row.lease_expires_at <= now
    return (
        free
        and row.tenant_id == tenant_id
        and row.destination_id == destination_id
        and row.status == DeliveryStatus.PENDING
    )


def claim_take(*, destination_id: int, ids: Sequence[int], top_up_to: int) -> Claim:
    """Takes the pending rows among ``ids`` that no other worker holds; with room left, also
    other due rows of the same destination (a backlog goes out in full batches).

    Commits before returning: from then on the lease and token alone keep the rows this
    worker's, and nothing is locked while the CRM is called.
    """
    now = timezone.now()
    token = uuid.uuid4()
    tenant_id = current_tenant_id()
    pending = Delivery.objects.filter(
        claimable_q(tenant_id=tenant_id, destination_id=destination_id, now=now)
    )
    with transaction.atomic():
        # Read by primary key alone, the other conditions checked here. Given the destination's
        # equalities as well, the planner, on statistics older than the rows (an outbox grown
        # fast, as during a backlog), read every pending row of the destination through
        # delivery_undelivered_idx for each claim: 3,368 pages and 1.5 ms a contact in
        # bench/submissions.py's destination phase, more than the sign-ups' own statements.
        named = Delivery.objects.filter(pk__in=list(ids)).select_for_update(skip_locked=True)
        rows = [
            row
            for row in named.order_by("pk")
            if claimable(row, tenant_id=tenant_id, destination_id=destination_id, now=now)
        ]
        if len(rows) < top_up_to:
            rows.extend(
                pending.filter(next_attempt_at__lte=now)
                .exclude(pk__in=[row.pk for row in rows])
                .select_for_update(skip_locked=True)
                .order_by("next_attempt_at")[: top_up_to - len(rows)]
            )
        if rows:
            until = lease_until(now)
            Delivery.objects.filter(pk__in=[row.pk for row in rows]).update(
                lease_token=token, lease_expires_at=until
            )
            for row in rows:
                row.lease_token, row.lease_expires_at = token, until
    return Claim(token=token, rows=rows)


def claim_extend(claim: Claim) -> None:
    """A fresh lease on the claim's rows that are still this worker's, for a send that makes
    several CRM calls (a refused batch split in halves) and may outlast one lease."""
    until = lease_until(timezone.now())
    Delivery.objects.filter(
        pk__in=[row.pk for row in claim.rows],
        lease_token=claim.token,
        status=DeliveryStatus.PENDING,
    ).update(lease_expires_at=until)
    for row in claim.rows:
        row.lease_expires_at = until


def claim_write(claim: Claim, *, report: SendReport) -> None:
    """Writes the claim's rows and attempts as the worker left them, but only the rows whose
    token is still this worker's: a row taken over meanwhile keeps its new owner's answer."""
    if not claim.rows:
        return
    rows = claim.rows
    for row in rows:
        row.lease_token, row.lease_expires_at = None, None
    columns: list[list[Any]] = [
        [row.pk for row in rows],
        [row.status for row in rows],
        [row.attempts for row in rows],
        [row.next_attempt_at for row in rows],
        [row.last_status_code for row in rows],
        [row.last_error for row in rows],
        [row.updated_at for row in rows],
        [row.delivered_at for row in rows],
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        # The token is checked by the UPDATE itself, which waits for and re-reads a row another
        # transaction is changing: no moment between the check and the write.
        cursor.execute(_WRITE, [*columns, claim.token])
        ours = {delivery_id for (delivery_id,) in cursor.fetchall()}
        attempts = [attempt for attempt in claim.attempts if attempt.delivery_id in ours]
        if attempts:
            DeliveryAttempt.objects.bulk_create(attempts)
    for row in rows:
        if row.pk in ours and row.pk in claim.outcomes:
            report.add(claim.outcomes[row.pk])
    if lost := len(rows) - len(ours):
        report.add(LOST, lost)
        logger.info(
            "deliveries were taken over while the CRM was called; their answer is dropped",
            extra={"count": lost},
        )
