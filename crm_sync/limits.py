"""Per-destination rate limit, concurrency cap and circuit breaker, shared by all workers.

They live in Redis because a vendor counts requests per account, not per worker process. When
Redis is flushed they start afresh: the worst case is a burst up to the bucket size, which the
vendor answers with 429 and Retry-After, and the schedule honours that.
"""

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from customerinfo.core.redis import redis_client, redis_key

from .schedule import RETRY_AFTER_CAP_SECONDS

# A token bucket with Redis's own clock, so workers on different machines agree on time.
_TAKE_TOKENS = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= cost then
    tokens = tokens - cost
else
    wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""


def destination_scope(*, tenant_id: int, destination_id: int) -> str:
    """The Redis scope of one destination's rate limit, breaker and cool-down."""
    return f"{tenant_id}:{destination_id}"


@dataclass(frozen=True)
class RateLimit:
    per_second: float
    burst: int


def rate_limit_take(*, scope: str, limit: RateLimit) -> float:
    """Takes one request's token; returns 0 when it may go now, else seconds to wait."""
    script = redis_client().register_script(_TAKE_TOKENS)
    wait = script(keys=[redis_key("crm", "rate", scope)], args=[limit.per_second, limit.burst, 1])
    return float(wait.decode() if isinstance(wait, bytes) else wait)


@contextmanager
def concurrency_slot(*, scope: str, limit: int | None) -> Iterator[bool]:
    """Yields whether one of ``limit`` connections to the vendor is free, and holds it if so.

    The counter expires, so a worker killed while holding a slot frees it within a minute.
    """
    if limit is None:
        yield True
        return
    key = redis_key("crm", "connections", scope)
    client = redis_client()
    pipeline = client.pipeline()
    pipeline.incr(key)
    pipeline.expire(key, 60)
    count, _ = pipeline.execute()
    try:
        yield int(count) <= limit
    finally:
        client.decr(key)


#: Consecutive failures that open the breaker, and how long it then stays open.
BREAKER_THRESHOLD = 5
BREAKER_OPEN_SECONDS = 60


class BreakerState:
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


def _breaker_key(scope: str) -> str:
    return redis_key("crm", "breaker", scope)


def _opened_until(scope: str) -> float | None:
    # redis-py's sync client is typed as if it could be async; the value is bytes or None.
    value: Any = redis_client().hget(_breaker_key(scope), "open_until")
    return None if value is None else float(value)


def breaker_allows(*, scope: str) -> bool:
    """Closed: yes. Open: no. Once the open period is over, one probe request at a time."""
    client = redis_client()
    opened_until = _opened_until(scope)
    if opened_until is None:
        return True
    if opened_until > time.time():
        return False
    # Half open: the first caller gets to probe; the others wait for its answer.
    return bool(client.set(redis_key("crm", "breaker-probe", scope), 1, nx=True, ex=30))


def breaker_record(*, scope: str, success: bool) -> None:
    client = redis_client()
    key = _breaker_key(scope)
    if success:
        client.delete(key, redis_key("crm", "breaker-probe", scope))
        return
    failures: Any = client.hincrby(key, "failures", 1)
    client.expire(key, 24 * 3600)
    if int(failures) >= BREAKER_THRESHOLD:
        client.hset(key, "open_until", str(time.time() + BREAKER_OPEN_SECONDS))
        client.delete(redis_key("crm", "breaker-probe", scope))


def breaker_state(*, scope: str) -> str:
    opened_until = _opened_until(scope)
    if opened_until is None:
        return BreakerState.CLOSED
    return BreakerState.OPEN if opened_until > time.time() else BreakerState.HALF_OPEN


def cooldown_start(*, scope: str, seconds: float) -> None:
    """The vendor said to wait (429 with Retry-After): nobody sends to it until then.

    Capped like the schedule's own waits: a Retry-After of years (or "inf") would hold every row
    of the destination back for ever without spending an attempt, or overflow Redis's expiry.
    """
    if not math.isfinite(seconds):
        seconds = RETRY_AFTER_CAP_SECONDS if seconds > 0 else 0
    seconds = min(seconds, RETRY_AFTER_CAP_SECONDS)
    if seconds > 0:
        redis_client().set(redis_key("crm", "cooldown", scope), 1, px=max(1, int(seconds * 1000)))


def cooldown_remaining(*, scope: str) -> float:
    milliseconds: Any = redis_client().pttl(redis_key("crm", "cooldown", scope))
    return max(0, int(milliseconds)) / 1000
