"""Sending: a worker takes due deliveries of one destination, calls the CRM, writes the answers.

Each batch is one claim (``claims``): taken in a short transaction, sent to the CRM with no
transaction open and no row locked, and its answers written in a second short transaction to the
rows this worker still holds. Why, and what a killed or slow worker leads to, is in ``claims``.

Whatever raises in contact building or provider code is an attempt with its reason
(``failures.contacts_send``); only our own database or Redis failing ends a round early, and
then its rows come back with the lease, like a killed worker's.
"""

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

from django.utils import timezone

from customerinfo.core.tenancy import current_tenant
from outbox.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from outbox.services import wake_clear
from signup.models import Submission
from tenants.models import TenantAccess

from .. import limits
from ..contacts import contact_build
from ..failures import contacts_send
from ..http import http_client
from ..models import Destination, DestinationState
from ..providers import PROVIDERS, Provider, Result, Verdict
from ..schedule import MAX_ATTEMPTS, retry_delay
from .claims import DEFERRED, Claim, SendReport, claim_take, claim_write
from .destinations import destination_pause, destination_provider, destination_scope

#: A worker sleeps for the rate limit only this long; a longer wait goes back to the outbox.
MAX_RATE_WAIT_SECONDS = 1.0


def _settle(
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


def _defer(claim: Claim, *, seconds: float, now: datetime) -> None:
    """Back to the outbox without spending an attempt (rate limit, cooldown, busy vendor)."""
    for row in claim.rows:
        row.next_attempt_at = now + timedelta(seconds=seconds)
        row.updated_at = now
        claim.outcomes[row.pk] = DEFERRED


def _bury(claim: Claim, *, reason: str) -> None:
    now = timezone.now()
    for row in claim.rows:
        row.status, row.last_error, row.updated_at = DeliveryStatus.DEAD, reason, now
        claim.outcomes[row.pk] = DeliveryStatus.DEAD


def _hold(claim: Claim) -> None:
    now = timezone.now()
    for row in claim.rows:
        row.status, row.updated_at = DeliveryStatus.HELD, now
        claim.outcomes[row.pk] = DeliveryStatus.HELD


def _suspended() -> bool:
    """Whether the retailer's account is suspended for an unpaid subscription."""
    return getattr(current_tenant(), "access", TenantAccess.FULL) == TenantAccess.SUSPENDED


def deliveries_send(
    *, destination_id: int, ids: Sequence[int], client: Any = None, max_rounds: int = 20
) -> SendReport:
    """Sends the given deliveries of one destination (in the current tenant), then whatever
    else of that destination is due, a batch per claim, until nothing is left.

    Rows another worker has taken are skipped, and a delivered row is never sent again; how the
    lease makes that so without holding a transaction across the CRM call is in ``claims``.
    """
    report = SendReport()
    # From here on a new sign-up wakes another task: this one may already be past its last look.
    wake_clear(destination_id=destination_id)
    destination = Destination.objects.filter(pk=destination_id).first()
    # A kind whose code is gone (a rollback) still has its rows claimed and tried: making its
    # provider fails inside the boundary, which records each try with the reason.
    cls = PROVIDERS.get(destination.kind, Provider) if destination else None
    if destination is None or cls is None:
        claim = claim_take(destination_id=destination_id, ids=ids, top_up_to=0)
        _bury(claim, reason="The destination was deleted.")
        claim_write(claim, report=report)
        return report
    if destination.state == DestinationState.PAUSED or not destination.enabled or _suspended():
        # Held, with no attempt spent: resuming the destination, or the retailer paying
        # (billing.services.suspension), sends them again.
        claim = claim_take(destination_id=destination_id, ids=ids, top_up_to=cls.batch_size)
        _hold(claim)
        claim_write(claim, report=report)
        return report
    own_client = client is None
    client = client or http_client()
    # Made on first use, inside the boundary: decrypting credentials can fail too.
    provider = cache(partial(destination_provider, destination=destination, client=client))
    size = cls.batch_size
    broken: Result | None = None
    try:
        wanted = list(ids)
        for _ in range(max_rounds):
            before = report.troubles()
            # The ids given, a batch per claim, the last batch topped up from the backlog.
            chunks = [wanted[start : start + size] for start in range(0, len(wanted), size)]
            wanted = []
            taken = 0
            for number, chunk in enumerate(chunks or [[]], start=1):
                claim = claim_take(
                    destination_id=destination_id,
                    ids=chunk,
                    top_up_to=size if number >= len(chunks) else 0,
                )
                taken += len(claim.rows)
                if not claim.rows:
                    continue
                if broken is not None:
                    _hold(claim)
                else:
                    broken = _send_batch(
                        destination=destination, cls=cls, provider=provider, claim=claim
                    )
                claim_write(claim, report=report)
            if not taken:
                break
            if broken is not None or report.troubles() > before:
                # Broken: pause below. Failing, or asking us to wait: the rest of the backlog
                # stays in the outbox for its own turn rather than hammering a struggling CRM.
                break
    finally:
        if own_client:
            client.close()
    if broken is not None:
        destination_pause(
            destination=destination,
            reason=broken.message or f"The CRM answered {broken.status_code}.",
            disable=broken.status_code == 410,
        )
    return report


def _send_batch(
    *,
    destination: Destination,
    cls: type[Provider],
    provider: Callable[[], Provider],
    claim: Claim,
) -> Result | None:
    """One call to the CRM for a claim's rows, unless the destination's limits say wait;
    returns the result that says the destination is broken."""
    scope = destination_scope(destination)
    now = timezone.now()
    cooldown = limits.cooldown_remaining(scope=scope)
    if cooldown > 0:
        _defer(claim, seconds=cooldown, now=now)
        return None
    if not limits.breaker_allows(scope=scope):
        result = Result(
            Verdict.RETRY, message="Not sent: the CRM failed several times in a row (circuit open)."
        )
        for row in claim.rows:
            claim.attempts.append(
                _settle(
                    row=row,
                    outcome=AttemptOutcome.SKIPPED,
                    result=result,
                    now=now,
                    started=now,
                    duration_ms=0,
                )
            )
            claim.outcomes[row.pk] = AttemptOutcome.SKIPPED
        return None
    wait = limits.rate_limit_take(scope=scope, limit=cls.rate_limit)
    if wait > MAX_RATE_WAIT_SECONDS:
        _defer(claim, seconds=wait, now=now)
        return None
    if wait > 0:
        time.sleep(wait)
    with limits.concurrency_slot(scope=scope, limit=cls.max_connections) as free:
        if not free:
            _defer(claim, seconds=1, now=now)
            return None
        return _call(destination=destination, provider=provider, claim=claim)


def _call(
    *, destination: Destination, provider: Callable[[], Provider], claim: Claim
) -> Result | None:
    scope = destination_scope(destination)
    submissions = {
        submission.pk: submission
        for submission in Submission.objects.filter(
            pk__in=[row.submission_id for row in claim.rows]
        )
        .select_related("location", "form_version")
        .prefetch_related("consents")
    }
    now = timezone.now()
    gone = Result(Verdict.PERMANENT, message="The sign-up was erased before it was delivered.")
    for row in claim.rows:
        if row.submission_id not in submissions:
            claim.attempts.append(
                _settle(
                    row=row,
                    outcome=AttemptOutcome.PERMANENT,
                    result=gone,
                    now=now,
                    started=now,
                    duration_ms=0,
                )
            )
    live = {row.pk: row for row in claim.rows if row.submission_id in submissions}
    started = timezone.now()
    clock = time.monotonic()
    # No transaction is open and no row is locked here: only the lease says these rows are
    # being sent. The one boundary (failures.py): whatever raises while building contacts or in
    # provider code comes back as a result with its reason, so every row gets its attempt.
    results = (
        contacts_send(
            keys=list(live),
            contact=lambda key: contact_build(
                key=key,
                submission=submissions[live[key].submission_id],
                field_mapping=destination.field_mapping,
            ),
            provider=provider,
        )
        if live
        else {}
    )
    duration_ms = int((time.monotonic() - clock) * 1000)
    finished = timezone.now()
    broken: Result | None = None
    answered = False
    missing = Result(Verdict.RETRY, message="The provider gave no result for this contact.")
    for row in live.values():
        result = results.get(row.pk, missing)
        outcome = AttemptOutcome(result.verdict.value)
        if result.verdict == Verdict.BROKEN:
            broken = result
        if result.verdict != Verdict.RETRY:
            answered = True
        if result.verdict == Verdict.RETRY and result.retry_after:
            limits.cooldown_start(scope=scope, seconds=result.retry_after)
        claim.attempts.append(
            _settle(
                row=row,
                outcome=outcome,
                result=result,
                now=finished,
                started=started,
                duration_ms=duration_ms,
            )
        )
        claim.outcomes[row.pk] = outcome
    if live:
        limits.breaker_record(scope=scope, success=answered)
    return broken
