"""The circuit breaker as a state machine, on the test Redis, with the clock moved by
time-machine (the breaker reads ``time.time()``; Redis only stores what it is given).

Closed until BREAKER_THRESHOLD calls fail in a row; then open for a short period that grows to
the probe interval; then half open, where exactly one caller probes and the others wait for its
answer; a success closes it and says since when the CRM had been failing.
"""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine

from crm_sync import limits

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def scope() -> str:
    """A destination of its own: test workers share the Redis database."""
    return f"test:{uuid.uuid4()}"


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def fail(scope: str, times: int = 1) -> None:
    for _ in range(times):
        assert limits.breaker_record(scope=scope, success=False) is None


def test_it_stays_closed_below_the_threshold_and_a_success_starts_the_count_again(
    scope: str, clock: time_machine.Traveller
) -> None:
    fail(scope, limits.BREAKER_THRESHOLD - 1)
    assert limits.breaker_check(scope=scope) == limits.BreakerGate(
        allowed=True, failing_since=START.timestamp()
    )
    # Never opened: nothing was held back, so there is no recovery to announce.
    assert limits.breaker_record(scope=scope, success=True) is None
    fail(scope, limits.BREAKER_THRESHOLD - 1)
    assert limits.breaker_state(scope=scope) == limits.BreakerState.CLOSED


def test_it_opens_briefly_then_lets_exactly_one_probe_through(
    scope: str, clock: time_machine.Traveller
) -> None:
    fail(scope, limits.BREAKER_THRESHOLD)
    gate = limits.breaker_check(scope=scope)
    assert (gate.allowed, gate.probe) == (False, False)
    assert gate.wait == limits.BREAKER_FIRST_OPEN_SECONDS
    assert limits.breaker_state(scope=scope) == limits.BreakerState.OPEN
    clock.shift(limits.BREAKER_FIRST_OPEN_SECONDS - 1)
    assert limits.breaker_check(scope=scope).wait == 1
    clock.shift(1)
    assert limits.breaker_state(scope=scope) == limits.BreakerState.HALF_OPEN
    assert limits.breaker_check(scope=scope) == limits.BreakerGate(
        allowed=True, probe=True, failing_since=START.timestamp()
    )
    # The others wait for the probe's answer, however many ask.
    for _ in range(3):
        other = limits.breaker_check(scope=scope)
        assert (other.allowed, other.wait) == (False, limits.BREAKER_PROBE_SECONDS)
    # A probe that never answers (its worker killed) lets another caller probe.
    clock.shift(limits.BREAKER_PROBE_SECONDS)
    assert limits.breaker_check(scope=scope).probe


def test_a_failed_probe_reopens_it_for_longer_up_to_the_probe_interval(
    scope: str, clock: time_machine.Traveller
) -> None:
    fail(scope, limits.BREAKER_THRESHOLD)
    waits = []
    for _ in range(4):
        wait = limits.breaker_check(scope=scope).wait
        waits.append(wait)
        clock.shift(wait)
        assert limits.breaker_check(scope=scope).probe
        fail(scope)  # the probe failed
    assert waits == [5, 10, 15, 15]
    assert limits.BREAKER_MAX_OPEN_SECONDS == 15


def test_a_success_closes_it_and_says_since_when_the_crm_failed(
    scope: str, clock: time_machine.Traveller
) -> None:
    fail(scope)
    clock.shift(2)
    fail(scope, limits.BREAKER_THRESHOLD - 1)
    clock.shift(limits.BREAKER_FIRST_OPEN_SECONDS)
    assert limits.breaker_check(scope=scope).probe
    recovery = limits.breaker_record(scope=scope, success=True)
    assert recovery == limits.BreakerRecovery(since=START.timestamp())
    assert limits.breaker_check(scope=scope) == limits.BreakerGate(allowed=True)
    assert limits.breaker_state(scope=scope) == limits.BreakerState.CLOSED
    # Closed for good: the next failure starts a new count, not a reopening.
    fail(scope)
    assert limits.breaker_check(scope=scope).allowed
