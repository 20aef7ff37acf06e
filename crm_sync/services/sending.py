"""Sending: a worker takes due deliveries of one destination, calls the CRM, writes the answers.

Each batch is one claim (``claims``): taken in a short transaction, sent to the CRM with no
transaction open and no row locked, and its answers written in a second short transaction to the
rows this worker still holds. Why, and what a killed or slow worker leads to, is in ``claims``.

Whatever raises in contact building or provider code is an attempt with its reason
(``failures.contacts_send``); only our own database or Redis failing ends a round early, and
then its rows come back with the lease, like a killed worker's.

Only a call to the CRM is an attempt. Rows the destination's limits hold back (the breaker
open, a Retry-After cool-down, the rate limit) go back to the outbox with a new
``next_attempt_at`` and their attempts untouched; while half open, the breaker lets one contact
probe, and its success releases everything it held back (``backlog``). A batch the CRM refuses
whole is split until the contact at fault is found (``splitting``).
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

from django.utils import timezone

from customerinfo.core.tenancy import current_tenant
from outbox.models import AttemptOutcome, Delivery, DeliveryAttempt, DeliveryStatus
from signup.models import Submission
from tenants.models import TenantAccess

from .. import limits
from ..contacts import contact_build
from ..failures import contacts_send
from ..http import shared_client
from ..models import Destination, DestinationState
from ..providers import PROVIDERS, Contact, Provider, Result, Verdict
from ..schedule import GIVE_UP_AFTER, MAX_ATTEMPTS, retry_delay
from .backlog import backlog_release
from .claims import DEFERRED, Claim, SendReport, claim_extend, claim_take, claim_write
from .destinations import destination_pause, destination_provider, destination_scope
from .splitting import batch_split

#: A worker sleeps for the rate limit only this long; a longer wait goes back to the outbox.
MAX_RATE_WAIT_SECONDS = 1.0
#: Splitting a refused batch may sleep longer for each call: the rows are in hand, and a vendor
#: as slow as Salesforce (0.6 requests/s) would otherwise stop most splits half-way.
MAX_SPLIT_RATE_WAIT_SECONDS = 5.0
#: What a delivery held back by the breaker says in the delivery log while it waits.
CIRCUIT_OPEN = (
    "Waiting: the CRM failed several times in a row; sending resumes as soon as it answers again."
)


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


def _defer(
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


def _bury(claim: Claim, *, reason: str, rows: Sequence[Delivery] | None = None) -> None:
    now = timezone.now()
    for row in claim.rows if rows is None else rows:
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
    # This process's client for the kind: its connections to the CRM are reused by the next
    # batch and the next task, whichever retailer they are for.
    client = client or shared_client(kind=destination.kind)
    # Made on first use, inside the boundary: decrypting credentials can fail too.
    provider = cache(partial(destination_provider, destination=destination, client=client))
    size = cls.batch_size
    broken: Result | None = None
    wanted = list(ids)
    for _ in range(max_rounds):
        before = report.troubles()
        # The ids given, a batch per claim, the last batch topped up from the backlog.
        chunks = [wanted[start : start + size] for start in range(0, len(wanted), size)]
        wanted = []
        taken = 0
        drained = False
        for number, chunk in enumerate(chunks or [[]], start=1):
            claim = claim_take(
                destination_id=destination_id,
                ids=chunk,
                top_up_to=size if number >= len(chunks) else 0,
            )
            taken += len(claim.rows)
            # The last claim had room and found no more due rows: no round is left to run
            # (rows that fall due later are the relay's).
            drained = len(claim.rows) < size
            if not claim.rows:
                continue
            if broken is not None:
                _hold(claim)
            else:
                broken = _send_batch(
                    destination=destination, cls=cls, provider=provider, claim=claim
                )
            claim_write(claim, report=report)
        if not taken or drained:
            break
        if broken is not None or report.troubles() > before:
            # Broken: pause below. Failing, or asking us to wait: the rest of the backlog
            # stays in the outbox for its own turn rather than hammering a struggling CRM.
            break
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
        _defer(claim, claim.rows, seconds=cooldown, now=now)
        return None
    gate = limits.breaker_check(scope=scope)
    if not gate.allowed:
        _hold_back(claim, gate=gate, now=now)
        return None
    wait = limits.rate_limit_take(scope=scope, limit=cls.rate_limit)
    if wait > MAX_RATE_WAIT_SECONDS:
        _defer(claim, claim.rows, seconds=wait, now=now)
        return None
    if wait > 0:
        time.sleep(wait)
    call = partial(_call, destination=destination, cls=cls, provider=provider, claim=claim)
    with limits.concurrency_slot(scope=scope, limit=cls.max_connections) as free:
        if not free:
            _defer(claim, claim.rows, seconds=1, now=now)
            return None
        if not gate.probe:
            return call(rows=claim.rows).broken
        return _probe(claim, call=call, scope=scope, cls=cls, now=now)


def _probe(
    claim: Claim,
    *,
    call: Callable[..., "_Answer"],
    scope: str,
    cls: type[Provider],
    now: datetime,
) -> Result | None:
    """Half open: one contact tests the CRM, and the rest of the batch follows only if the CRM
    answered it; a failed probe costs one attempt, not a batch of them."""
    probe, rest = claim.rows[:1], claim.rows[1:]
    answer = call(rows=probe)
    if answer.broken is not None or not rest:
        return answer.broken
    if not answer.answered:
        _hold_back(claim, rows=rest, gate=limits.breaker_check(scope=scope), now=now)
        return None
    wait = limits.rate_limit_take(scope=scope, limit=cls.rate_limit)
    if wait > MAX_RATE_WAIT_SECONDS:
        _defer(claim, rest, seconds=wait, now=now)
        return None
    time.sleep(wait)
    return call(rows=rest).broken


def _hold_back(
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
        _bury(
            claim, rows=rows, reason=f"Gave up: the CRM failed for {days:.0f} days without a break."
        )
        return
    _defer(claim, rows, seconds=gate.wait, now=now, reason=CIRCUIT_OPEN)


@dataclass(frozen=True)
class _Answer:
    #: The result that says the destination is broken, if one did.
    broken: Result | None = None
    #: Whether the CRM answered at all (anything but "try again"): the breaker's success.
    answered: bool = False


def _call(
    *,
    destination: Destination,
    cls: type[Provider],
    provider: Callable[[], Provider],
    claim: Claim,
    rows: Sequence[Delivery],
) -> _Answer:
    """Sends ``rows`` of the claim in one CRM call (more when the CRM refuses the batch whole
    and it is split) and settles each row with its answer."""
    scope = destination_scope(destination)
    submissions = {
        submission.pk: submission
        for submission in Submission.objects.filter(pk__in=[row.submission_id for row in rows])
        .select_related("location", "form_version")
        .prefetch_related("consents")
    }
    now = timezone.now()
    gone = Result(Verdict.PERMANENT, message="The sign-up was erased before it was delivered.")
    for row in rows:
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
    live = {row.pk: row for row in rows if row.submission_id in submissions}
    if not live:
        return _Answer()

    # Built once per row, even when a refused batch is sent again in halves.
    @cache
    def contact(key: int) -> Contact:
        return contact_build(
            key=key,
            submission=submissions[live[key].submission_id],
            field_mapping=destination.field_mapping,
        )

    def send(keys: list[int]) -> dict[int, Result]:
        # No transaction is open and no row is locked here: only the lease says these rows are
        # being sent. The one boundary (failures.py): whatever raises while building contacts or
        # in provider code comes back as a result with its reason, so every row gets its attempt.
        return contacts_send(keys=keys, contact=contact, provider=provider)

    started = timezone.now()
    clock = time.monotonic()
    first = send(list(live))
    split = batch_split(
        results=first,
        send=partial(_send_part, send=send, scope=scope, cls=cls, claim=claim),
    )
    duration_ms = int((time.monotonic() - clock) * 1000)
    finished = timezone.now()
    # Not settled because the split ran out of calls or of rate: no attempt is spent on them.
    unresolved = [live.pop(key) for key in split.unresolved]
    _defer(claim, unresolved, seconds=MAX_SPLIT_RATE_WAIT_SECONDS, now=finished)
    broken: Result | None = None
    answered = any(result.verdict != Verdict.RETRY for result in first.values())
    missing = Result(Verdict.RETRY, message="The provider gave no result for this contact.")
    for row in live.values():
        result = split.results.get(row.pk, missing)
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
    recovery = limits.breaker_record(scope=scope, success=answered)
    if recovery is not None:
        backlog_release(destination_id=destination.pk, failing_since=recovery.since)
    return _Answer(broken=broken, answered=answered)


def _send_part(
    keys: list[int],
    *,
    send: Callable[[list[int]], dict[int, Result]],
    scope: str,
    cls: type[Provider],
    claim: Claim,
) -> dict[int, Result] | None:
    """One call for part of a refused batch, within the rate limit; None when it must wait
    longer than a worker sleeps for it."""
    wait = limits.rate_limit_take(scope=scope, limit=cls.rate_limit)
    if wait > MAX_SPLIT_RATE_WAIT_SECONDS:
        return None
    time.sleep(wait)
    # The split may take a while at a vendor's pace: the rows stay this worker's meanwhile.
    claim_extend(claim)
    return send(keys)
