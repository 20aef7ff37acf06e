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
from functools import lru_cache
from typing import Any

import redis
from redis.commands.core import Script

from customerinfo.core.redis import redis_client, redis_key

from .schedule import RETRY_AFTER_CAP_SECONDS

# A token bucket with Redis's own clock, so workers on different machines agree on time. A
# caller told to wait has its token reserved (the bucket goes below zero), so the next caller
# waits behind it: without the reservation, every worker waiting at the same moment waited for
# the same token, and two workers sent a webhook at 139 a second against its 50. A wait longer
# than the caller will sleep (ARGV[4]) reserves nothing: that caller does not send.
_TAKE_TOKENS = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = math.max(0, (cost - tokens) / rate)
if wait <= max_wait then
    tokens = tokens - cost
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil((burst + max_wait * rate) / rate) + 60)
return tostring(wait)
"""


@lru_cache(maxsize=8)
def _script(client: redis.Redis, source: str) -> Script:
    """The script, loaded into Redis on first use (EVALSHA, and again after a Redis restart):
    made for each call, hashing its source was a twentieth of a webhook delivery's CPU."""
    return client.register_script(source)


def destination_scope(*, tenant_id: int, destination_id: int) -> str:
    """The Redis scope of one destination's rate limit, breaker and cool-down."""
    return f"{tenant_id}:{destination_id}"


@dataclass(frozen=True)
class RateLimit:
    per_second: float
    burst: int


def rate_limit_take(*, scope: str, limit: RateLimit, max_wait: float) -> float:
    """Takes one request's token: returns 0 when it may go now, else the seconds to wait.

    A wait of at most ``max_wait`` holds the token for the caller, who must then sleep it and
    send; a longer wait takes nothing, and the caller does not send.
    """
    script = _script(redis_client(), _TAKE_TOKENS)
    wait = script(
        keys=[redis_key("crm", "rate", scope)],
        args=[limit.per_second, limit.burst, 1, max_wait],
    )
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


#: Consecutive failed calls that open the breaker.
BREAKER_THRESHOLD = 5
#: How long it stays open before one probe may go: short at first (most outages are blips),
#: then every BREAKER_MAX_OPEN_SECONDS while the CRM keeps failing. A long hold after the CRM
#: recovers is pure delay, so the hold never grows past the probe interval.
BREAKER_FIRST_OPEN_SECONDS = 5.0
BREAKER_MAX_OPEN_SECONDS = 15.0
#: How long a probe may take before another caller may probe (the HTTP timeout is 15 s).
BREAKER_PROBE_SECONDS = 20.0
_BREAKER_TTL_SECONDS = 24 * 3600


class BreakerState:
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True)
class BreakerGate:
    """What the breaker says to one caller: go, go as the one probe, or wait ``wait`` seconds."""

    allowed: bool
    probe: bool = False
    wait: float = 0.0
    #: When the destination started failing without a success since (epoch seconds), if it is.
    failing_since: float | None = None


@dataclass(frozen=True)
class BreakerRecovery:
    """The breaker closed after being open: the CRM is back after failing since ``since``."""

    since: float


# The state is one hash; the caller's clock comes in ARGV so that every check and change of it
# is one atomic step (two workers never both win the probe) and tests can move the clock.
_BREAKER_CHECK = """
local now = tonumber(ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'open_until', 'probe_until', 'since')
local open_until = tonumber(state[1])
local probe_until = tonumber(state[2])
if not open_until then
    return {1, 0, '0', state[3] or ''}
end
if now < open_until then
    return {0, 0, tostring(open_until - now), state[3] or ''}
end
if probe_until and now < probe_until then
    return {0, 0, tostring(probe_until - now), state[3] or ''}
end
redis.call('HSET', KEYS[1], 'probe_until', tostring(now + tonumber(ARGV[2])))
return {1, 1, '0', state[3] or ''}
"""

# A success: what the breaker held (to say since when the CRM had been failing), and a clean
# slate, in one round trip (every delivered call makes it).
_BREAKER_SUCCESS = """
local state = redis.call('HMGET', KEYS[1], 'open_until', 'since')
redis.call('DEL', KEYS[1])
return state
"""

_BREAKER_FAILURE = """
local now = tonumber(ARGV[1])
redis.call('HSETNX', KEYS[1], 'since', tostring(now))
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local opened = redis.call('HEXISTS', KEYS[1], 'open_until') == 1
if opened or failures >= tonumber(ARGV[2]) then
    -- Open, or a failed probe: open (again) for a period that grows to the probe interval.
    local opens = redis.call('HINCRBY', KEYS[1], 'opens', 1)
    local seconds = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (opens - 1))
    redis.call('HSET', KEYS[1], 'open_until', tostring(now + seconds))
    redis.call('HDEL', KEYS[1], 'probe_until')
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return failures
"""


def _breaker_key(scope: str) -> str:
    return redis_key("crm", "breaker", scope)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def breaker_check(*, scope: str) -> BreakerGate:
    """Closed: go. Open: wait until it may half-open. Half open: the first caller is the one
    probe; the others wait for its answer (at most BREAKER_PROBE_SECONDS)."""
    script = _script(redis_client(), _BREAKER_CHECK)
    allowed, probe, wait, since = script(
        keys=[_breaker_key(scope)], args=[time.time(), BREAKER_PROBE_SECONDS]
    )
    since_text = _text(since)
    return BreakerGate(
        allowed=bool(int(allowed)),
        probe=bool(int(probe)),
        wait=float(_text(wait)),
        failing_since=float(since_text) if since_text else None,
    )


def breaker_record(*, scope: str, success: bool) -> BreakerRecovery | None:
    """Counts one call's outcome. A success closes the breaker; returns the recovery when it had
    been open, so that the deliveries it held back can go at once."""
    client = redis_client()
    key = _breaker_key(scope)
    if success:
        opened_until, since = _script(client, _BREAKER_SUCCESS)(keys=[key])
        if opened_until is None or since is None:
            return None
        return BreakerRecovery(since=float(_text(since)))
    script = _script(client, _BREAKER_FAILURE)
    script(
        keys=[key],
        args=[
            time.time(),
            BREAKER_THRESHOLD,
            BREAKER_FIRST_OPEN_SECONDS,
            BREAKER_MAX_OPEN_SECONDS,
            _BREAKER_TTL_SECONDS,
        ],
    )
    return None


def breaker_state(*, scope: str) -> str:
    # redis-py's sync client is typed as if it could be async; the value is bytes or None.
    value: Any = redis_client().hget(_breaker_key(scope), "open_until")
    if value is None:
        return BreakerState.CLOSED
    return BreakerState.OPEN if float(_text(value)) > time.time() else BreakerState.HALF_OPEN


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
