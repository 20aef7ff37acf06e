"""Sending: a worker takes due deliveries of one destination, calls the CRM, writes the answers.

Each claim (``claims``) is taken in a short transaction, sent to the CRM with no transaction open
and no row locked, and its answers written in a second short transaction to the rows this worker
still holds. Why, and what a killed or slow worker leads to, is in ``claims``. A claim is one
batch, or for a vendor taking one contact a call several calls one after the other
(``Provider.calls_per_claim``); the first call the CRM fails, defers or breaks on is its last.

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
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from typing import Any

from django.conf import settings
from django.utils import timezone

from customerinfo.core.tenancy import current_tenant
from outbox.models import AttemptOutcome, Delivery
from signup.models import Submission
from tenants.models import TenantAccess

from .. import limits
from ..contacts import contact_build
from ..failures import contacts_send
from ..http import TIMEOUT_SECONDS, shared_client
from ..models import Destination, DestinationState
from ..providers import PROVIDERS, Contact, Provider, Result, Verdict
from .backlog import backlog_release
from .claims import TROUBLES, Claim, SendReport, claim_extend, claim_take, claim_write
from .destinations import destination_pause, destination_provider, destination_scope
from .outcomes import bury, defer, hold, hold_back, settle
from .splitting import batch_split

#: A worker sleeps for the rate limit only this long; a longer wait goes back to the outbox.
MAX_RATE_WAIT_SECONDS = 1.0
#: Splitting a refused batch may sleep longer for each call: the rows are in hand, and a vendor
#: as slow as Salesforce (0.6 requests/s) would otherwise stop most splits half-way.
MAX_SPLIT_RATE_WAIT_SECONDS = 5.0


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
        bury(claim, reason="The destination was deleted.")
        claim_write(claim, report=report)
        return report
    size = cls.batch_size * cls.calls_per_claim
    if destination.state == DestinationState.PAUSED or not destination.enabled or _suspended():
        # Held, with no attempt spent: resuming the destination, or the retailer paying
        # (billing.services.suspension), sends them again.
        claim = claim_take(destination_id=destination_id, ids=ids, top_up_to=size)
        hold(claim)
        claim_write(claim, report=report)
        return report
    # This process's client for the kind: its connections to the CRM are reused by the next
    # batch and the next task, whichever retailer they are for.
    client = client or shared_client(kind=destination.kind)
    # Made on first use, inside the boundary: decrypting credentials can fail too.
    provider = cache(partial(destination_provider, destination=destination, client=client))
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
                hold(claim)
            else:
                broken = _send_claim(
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


def _send_claim(
    *,
    destination: Destination,
    cls: type[Provider],
    provider: Callable[[], Provider],
    claim: Claim,
) -> Result | None:
    """Sends a claim's rows, one CRM call of ``cls.batch_size`` contacts after the other, each
    within the destination's limits as if it were a claim of its own; returns the result that
    says the destination is broken, and then holds the rows not yet sent.

    A claim of several calls (``Provider.calls_per_claim``) takes, reads and writes its rows
    once: for a vendor taking one contact a call, one claim per call cost two transactions and
    a read of the sign-ups for every contact, more than the call itself.
    """
    submissions = _submissions(claim.rows)
    calls = [
        claim.rows[start : start + cls.batch_size]
        for start in range(0, len(claim.rows), cls.batch_size)
    ]
    leased = time.monotonic()
    for number, rows in enumerate(calls):
        if number and time.monotonic() - leased > _lease_spent_after():
            # The calls so far used up the part of the lease that another call, at its
            # longest, would outlast: the rows stay this worker's.
            claim_extend(claim)
            leased = time.monotonic()
        broken = _send_batch(
            destination=destination,
            cls=cls,
            provider=provider,
            claim=claim,
            rows=rows,
            submissions=submissions,
        )
        rest = [row for later in calls[number + 1 :] for row in later]
        if broken is not None:
            hold(claim, rows=rest)
            return broken
        if any(claim.outcomes.get(row.pk) in TROUBLES for row in rows):
            # Failing or asking us to wait: the rest go back to the outbox, untried, for their
            # own turn, rather than hammering a struggling CRM call after call.
            defer(claim, rest, seconds=0, now=timezone.now())
            return None
    return None


def _lease_spent_after() -> float:
    """How long into a lease a claim may start another call: what is left of the lease must
    outlast the call at its longest (a rate-limit wait, then the HTTP timeout, twice over for
    a slow connect)."""
    lease = float(settings.CRM_DELIVERY_LEASE_SECONDS)
    return max(0.0, lease - MAX_RATE_WAIT_SECONDS - 2 * TIMEOUT_SECONDS)


def _submissions(rows: Sequence[Delivery]) -> dict[uuid.UUID, Submission]:
    """The sign-ups the rows deliver, with what building their contacts reads."""
    return {
        submission.pk: submission
        for submission in Submission.objects.filter(pk__in=[row.submission_id for row in rows])
        .select_related("location", "form_version")
        .prefetch_related("consents")
    }


def _send_batch(
    *,
    destination: Destination,
    cls: type[Provider],
    provider: Callable[[], Provider],
    claim: Claim,
    rows: Sequence[Delivery],
    submissions: Mapping[uuid.UUID, Submission],
) -> Result | None:
    """One call to the CRM for some of a claim's rows, unless the destination's limits say
    wait; returns the result that says the destination is broken."""
    scope = destination_scope(destination)
    now = timezone.now()
    cooldown = limits.cooldown_remaining(scope=scope)
    if cooldown > 0:
        defer(claim, rows, seconds=cooldown, now=now)
        return None
    gate = limits.breaker_check(scope=scope)
    if not gate.allowed:
        hold_back(claim, rows=rows, gate=gate, now=now)
        return None
    wait = limits.rate_limit_take(scope=scope, limit=cls.rate_limit, max_wait=MAX_RATE_WAIT_SECONDS)
    if wait > MAX_RATE_WAIT_SECONDS:
        defer(claim, rows, seconds=wait, now=now)
        return None
    if wait > 0:
        time.sleep(wait)
    call = partial(
        _call,
        destination=destination,
        cls=cls,
        provider=provider,
        claim=claim,
        submissions=submissions,
    )
    with limits.concurrency_slot(scope=scope, limit=cls.max_connections) as free:
        if not free:
            defer(claim, rows, seconds=1, now=now)
            return None
        if not gate.probe:
            return call(rows=rows).broken
        return _probe(claim, rows=rows, call=call, scope=scope, cls=cls, now=now)


def _probe(
    claim: Claim,
    *,
    rows: Sequence[Delivery],
    call: Callable[..., "_Answer"],
    scope: str,
    cls: type[Provider],
    now: datetime,
) -> Result | None:
    """Half open: one contact tests the CRM, and the rest of the batch follows only if the CRM
    answered it; a failed probe costs one attempt, not a batch of them."""
    probe, rest = rows[:1], rows[1:]
    answer = call(rows=probe)
    if answer.broken is not None or not rest:
        return answer.broken
    if not answer.answered:
        hold_back(claim, rows=rest, gate=limits.breaker_check(scope=scope), now=now)
        return None
    wait = limits.rate_limit_take(scope=scope, limit=cls.rate_limit, max_wait=MAX_RATE_WAIT_SECONDS)
    if wait > MAX_RATE_WAIT_SECONDS:
        defer(claim, rest, seconds=wait, now=now)
        return None
    time.sleep(wait)
    return call(rows=rest).broken


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
    submissions: Mapping[uuid.UUID, Submission],
) -> _Answer:
    """Sends ``rows`` of the claim in one CRM call (more when the CRM refuses the batch whole
    and it is split) and settles each row with its answer."""
    scope = destination_scope(destination)
    now = timezone.now()
    gone = Result(Verdict.PERMANENT, message="The sign-up was erased before it was delivered.")
    for row in rows:
        if row.submission_id not in submissions:
            claim.attempts.append(
                settle(
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
    defer(claim, unresolved, seconds=MAX_SPLIT_RATE_WAIT_SECONDS, now=finished)
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
            settle(
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
    wait = limits.rate_limit_take(
        scope=scope, limit=cls.rate_limit, max_wait=MAX_SPLIT_RATE_WAIT_SECONDS
    )
    if wait > MAX_SPLIT_RATE_WAIT_SECONDS:
        return None
    time.sleep(wait)
    # The split may take a while at a vendor's pace: the rows stay this worker's meanwhile.
    claim_extend(claim)
    return send(keys)
