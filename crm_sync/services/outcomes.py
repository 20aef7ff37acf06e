"""What a claim's rows become without a delivered answer of their own: settled after an attempt,
deferred or held back by the destination's limits, held while it is paused, or buried."""

import time
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.utils import timezone

from outbox.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus

from .. import limits
from ..providers import Result
from ..schedule import GIVE_UP_AFTER, MAX_ATTEMPTS, retry_delay
from .claims import DEFERRED, Claim

#: What a delivery held back by the breaker says in the delivery log while it waits.
CIRCUIT_OPEN = (
    "Waiting: the CRM failed several times in a row; sending resumes as soon as it answers again."
)


def settle(
    *,
    row: Delivery,
    outcome: str,
    result: Result,
    now: datetime,
    started: datetime,
    duration_ms: int,
) -> DeliveryAttempt:
    """Moves one delivery on after an attempt and returns the attempt's log row."""
    spends_attempt = outcome != AttemptOutcome.BROKEN
    number = row.attempts + 1
    if spends_attempt:
        row.attempts = number
    row.last_status_code = result.status_code
    row.last_error = result.message[:2000]
    row.updated_at = now
    if outcome == AttemptOutcome.DELIVERED:
        row.status = DeliveryStatus.DELIVERED
        row.delivered_at = now
        row.last_error = ""
    elif outcome == AttemptOutcome.PERMANENT:
        row.status = DeliveryStatus.DEAD
    elif outcome == AttemptOutcome.BROKEN:
        row.status = DeliveryStatus.HELD
    else:
        delay = retry_delay(attempts=row.attempts, retry_after=result.retry_after)
        if delay is None:
            row.status = DeliveryStatus.DEAD
            row.last_error = f"Gave up after {MAX_ATTEMPTS} attempts. Last: {result.message}"[:2000]
        else:
            row.next_attempt_at = now + delay
    return DeliveryAttempt(
        delivery=row,
        number=number,
        started_at=started,
        duration_ms=duration_ms,
        outcome=outcome,
        status_code=result.status_code,
        error=result.message[:2000],
    )


def defer(
    claim: Claim, rows: Sequence[Delivery], *, seconds: float, now: datetime, reason: str = ""
) -> None:
    """Back to the outbox without spending an attempt (breaker, cool-down, rate limit, busy
    vendor): not sending is not a failure of the sign-up, and must not push it down the
    schedule."""
    for row in rows:
        row.next_attempt_at = now + timedelta(seconds=max(seconds, 0.0))
        row.updated_at = now
        if reason:
            row.last_error = reason
        claim.outcomes[row.pk] = DEFERRED


def bury(claim: Claim, *, reason: str, rows: Sequence[Delivery] | None = None) -> None:
    now = timezone.now()
    for row in claim.rows if rows is None else rows:
        row.status, row.last_error, row.updated_at = DeliveryStatus.DEAD, reason, now
        claim.outcomes[row.pk] = DeliveryStatus.DEAD


def hold(claim: Claim, rows: Sequence[Delivery] | None = None) -> None:
    now = timezone.now()
    for row in claim.rows if rows is None else rows:
        row.status, row.updated_at = DeliveryStatus.HELD, now
        claim.outcomes[row.pk] = DeliveryStatus.HELD


def hold_back(
    claim: Claim,
    *,
    gate: limits.BreakerGate,
    now: datetime,
    rows: Sequence[Delivery] | None = None,
) -> None:
    """The breaker is open: the rows wait until a probe may go, spending no attempt (each skip
    used to spend one, and pushed sign-ups that were never sent to the 30-minute wait). A
    destination failing without a break for the schedule's whole span buries them instead."""
    rows = claim.rows if rows is None else rows
    failing = gate.failing_since is not None and (
        time.time() - gate.failing_since > GIVE_UP_AFTER.total_seconds()
    )
    if failing:
        days = GIVE_UP_AFTER.total_seconds() / 86400
        bury(
            claim, rows=rows, reason=f"Gave up: the CRM failed for {days:.0f} days without a break."
        )
        return
    defer(claim, rows, seconds=gate.wait, now=now, reason=CIRCUIT_OPEN)
