"""The per-destination rate limit, a token bucket on the test Redis with Redis's own clock.

What it promises a vendor: by any moment t after the first take, at most ``burst + rate * t``
requests were allowed to go, however many workers take at once. A caller told to wait holds its
token while it sleeps, so the next caller queues behind it; a caller whose wait is longer than
it will sleep takes nothing and does not send.
"""

import threading
import time
import uuid

import pytest

from crm_sync import limits
from crm_sync.limits import RateLimit

#: Redis's clock moves while the test talks to it: a few milliseconds between takes.
SLACK_SECONDS = 0.05


@pytest.fixture
def scope() -> str:
    """A destination of its own: test workers share the Redis database."""
    return f"test:{uuid.uuid4()}"


def test_takers_at_the_same_moment_queue_one_token_apart(scope: str) -> None:
    limit = RateLimit(per_second=10, burst=2)
    waits = [limits.rate_limit_take(scope=scope, limit=limit, max_wait=10) for _ in range(6)]
    assert waits[:2] == [0, 0], "the burst goes at once"
    for number, wait in enumerate(waits[2:], start=1):
        assert wait == pytest.approx(number / limit.per_second, abs=SLACK_SECONDS)


def test_a_wait_longer_than_the_caller_sleeps_reserves_nothing(scope: str) -> None:
    limit = RateLimit(per_second=10, burst=1)
    assert limits.rate_limit_take(scope=scope, limit=limit, max_wait=0.15) == 0
    queued = limits.rate_limit_take(scope=scope, limit=limit, max_wait=0.15)
    assert queued == pytest.approx(0.1, abs=SLACK_SECONDS)
    refused = [limits.rate_limit_take(scope=scope, limit=limit, max_wait=0.15) for _ in range(3)]
    # Each refused caller was quoted the same next slot: none of them took it.
    for wait in refused:
        assert wait > 0.15
        assert wait == pytest.approx(0.2, abs=SLACK_SECONDS)


def test_many_workers_taking_at_once_never_exceed_burst_plus_rate(scope: str) -> None:
    limit = RateLimit(per_second=50, burst=5)
    start = time.monotonic()
    allowed: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            wait = limits.rate_limit_take(scope=scope, limit=limit, max_wait=1.0)
            if wait <= 1.0:
                with lock:
                    # When this request goes: now, after the wait it was told to sleep.
                    allowed.append(time.monotonic() - start + wait)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 40, "every wait fitted in a second"
    for count, moment in enumerate(sorted(allowed), start=1):
        # The count-th request to go may not go before the bucket held count tokens.
        earliest = (count - limit.burst) / limit.per_second
        assert moment >= earliest - SLACK_SECONDS, (count, moment)
