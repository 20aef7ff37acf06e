"""Which tablet a device token belongs to, and its request count, at the least cost per sign-up.

Every kiosk request needs both answers. Asking Redis or PostgreSQL for them on each sign-up
cost the request more than anything it does besides storing the row, so:

- **The tablet** (its id, store, and the store's country) is remembered by each web process for
  ``DEVICE_CACHE_SECONDS``. It is never trusted alone: the sign-up's INSERT stores the row only
  if, in the statement's own snapshot, that device is still paired to that store in that
  country (``signup.services``). A revoked tablet is refused by the very statement that would
  store its sign-up, and a store that changed country is read again; there is no invalidation
  to get wrong and no window after a revoke. A token the process does not know is looked up in
  PostgreSQL.
- **The per-tablet rate limit** is a fixed-window counter in Redis shared by all processes. A
  process adds its own requests to it in steps (``_step``: a twentieth of the limit, at most 50)
  rather than one by one, and any request that would take its estimate over the limit adds them
  first and reads the shared count back, so a refusal is always decided on the shared count.
  A tablet can therefore exceed its limit by at most one step per web process before it is
  refused (default 120/min: by 6 per process), and a tablet at a normal pace (a sign-up every
  few seconds) never costs a Redis call at all.

Both are keyed by the tenant row's id: a token of tenant A presented on tenant B's host is looked
up in B's schema, and refused.
"""

import time
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.db import connection

from customerinfo.core.redis import redis_client, redis_key
from customerinfo.core.tenancy import current_tenant_id

from .models import Device, Location

#: How long a process remembers a tablet. Only memory hygiene: every sign-up re-checks it.
DEVICE_CACHE_SECONDS = 300
#: Tablets and counters a process keeps at most; past this it starts afresh.
_MAX_ENTRIES = 10_000

# KEYS[1]: a token's counter for this window; ARGV[1]: the window in seconds, ARGV[2]: how many
# requests to add. SET NX + INCRBY: a counter that expires with its window, however it started.
_ADD = """
redis.call('SET', KEYS[1], 0, 'EX', ARGV[1], 'NX')
return redis.call('INCRBY', KEYS[1], ARGV[2])
"""


@lru_cache(maxsize=1)
def _add_script() -> "redis.commands.core.Script":
    # EVALSHA, loaded into Redis on first use (and again after a Redis restart).
    return redis_client().register_script(_ADD)


def _tenant_id() -> int:
    return current_tenant_id()


def counter_key(*, token_hash: str, window_start: int) -> str:
    return redis_key("throttle", _tenant_id(), "device", token_hash, window_start)


# --- the tablet --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Known:
    device_id: int
    location_id: int
    country: str
    until: float


_known: dict[tuple[int, str], _Known] = {}


def device_known(*, token_hash: str) -> Device | None:
    """The tablet this process remembers for the token, if any: a Device and its Location holding
    the fields a sign-up needs; the others are deferred, so code that reads them gets them from
    the database rather than a blank."""
    known = _known.get((_tenant_id(), token_hash))
    if known is None or known.until < time.monotonic():
        return None
    location = Location.from_db(
        connection.alias, ["id", "country"], [known.location_id, known.country]
    )
    device = Device.from_db(
        connection.alias,
        ["id", "location_id", "token_hash"],
        [known.device_id, location.pk, token_hash],
    )
    Device.location.field.set_cached_value(device, location)
    return device


def device_remember(*, device: Device) -> None:
    """Remembers a paired device just read from the database."""
    if len(_known) >= _MAX_ENTRIES:
        _known.clear()
    _known[(_tenant_id(), device.token_hash)] = _Known(
        device_id=device.pk,
        location_id=device.location_id,
        country=device.location.country,
        until=time.monotonic() + DEVICE_CACHE_SECONDS,
    )


def device_forget(*, token_hash: str) -> None:
    _known.pop((_tenant_id(), token_hash), None)


# --- the rate limit ----------------------------------------------------------------------------


@dataclass
class _Window:
    start: int
    #: The shared count Redis returned when this process last added to it.
    shared: int = 0
    #: This process's requests in the window not added to it yet.
    unsent: int = 0


_windows: dict[tuple[int, str], _Window] = {}


@dataclass(frozen=True)
class DeviceCount:
    """Whether the token is over its limit with this request, and when its window ends."""

    throttled: bool
    retry_after: int


def _step(limit: int) -> int:
    return max(1, min(limit // 20, 50))


def device_count(*, token_hash: str, limit: int, window: int) -> DeviceCount:
    """Counts one request of the token (throttled ones too) against ``limit`` per ``window``."""
    now = int(time.time())
    window_start = now - now % window
    key = (_tenant_id(), token_hash)
    counted = _windows.get(key)
    if counted is None or counted.start != window_start:
        if len(_windows) >= _MAX_ENTRIES:
            _windows.clear()
        counted = _windows[key] = _Window(start=window_start)
    counted.unsent += 1
    if counted.unsent >= _step(limit) or counted.shared + counted.unsent > limit:
        counted.shared = int(
            _add_script()(
                keys=[counter_key(token_hash=token_hash, window_start=window_start)],
                args=[window, counted.unsent],
            )
        )
        counted.unsent = 0
    return DeviceCount(
        throttled=counted.shared + counted.unsent > limit,
        retry_after=window_start + window - now,
    )


def devices_memory_clear() -> None:
    """Forgets every tablet and unsent count this process holds (as a new process would)."""
    _known.clear()
    _windows.clear()
