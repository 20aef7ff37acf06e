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
  few seconds) never costs a Redis call at all. The process keeps a window for at most
  ``MAX_ENTRIES`` tablets; the one used longest ago is dropped first, and its unsent requests
  are added to Redis as it goes (``_window_evicted``), so an eviction never resets a count.

Both are keyed by the tenant row's id: a token of tenant A presented on tenant B's host is looked
up in B's schema, and refused.
"""

import time
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.db import connection

from customerinfo.core.caches import BoundedCache
from customerinfo.core.redis import redis_client, redis_key
from customerinfo.core.tenancy import current_tenant_id

from .models import Device, Location

#: How long a process remembers a tablet: a day. Only hygiene, since every sign-up re-checks it
#: and a tablet the statement refuses is read again at once. A shorter time missed most real
#: sign-ups: a till's tablet sends one every few minutes, spread over the pod's workers, so at
#: 300 s each worker had forgotten it by the next one and read it from PostgreSQL again.
DEVICE_CACHE_SECONDS = 86_400
#: Tablets, and windows of counts, a process keeps at most (about 200 bytes each); past this
#: the one used longest ago goes.
MAX_ENTRIES = 10_000

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


def counter_key(*, token_hash: str, window_start: int, tenant_id: int | None = None) -> str:
    tenant = _tenant_id() if tenant_id is None else tenant_id
    return redis_key("throttle", tenant, "device", token_hash, window_start)


# --- the tablet --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Known:
    device_id: int
    location_id: int
    country: str


_known: BoundedCache[tuple[int, str], _Known] = BoundedCache(
    max_entries=MAX_ENTRIES, ttl=DEVICE_CACHE_SECONDS
)


def device_known(*, token_hash: str) -> Device | None:
    """The tablet this process remembers for the token, if any: a Device and its Location holding
    the fields a sign-up needs; the others are deferred, so code that reads them gets them from
    the database rather than a blank."""
    known = _known.get((_tenant_id(), token_hash))
    if known is None:
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
    _known.set(
        (_tenant_id(), device.token_hash),
        _Known(
            device_id=device.pk, location_id=device.location_id, country=device.location.country
        ),
    )


def device_forget(*, token_hash: str) -> None:
    _known.pop((_tenant_id(), token_hash))


# --- the rate limit ----------------------------------------------------------------------------


@dataclass
class _Window:
    start: int
    #: Its length in seconds.
    length: int
    #: The shared count Redis returned when this process last added to it.
    shared: int = 0
    #: This process's requests in the window not added to it yet.
    unsent: int = 0


def _add(*, tenant_id: int, token_hash: str, counted: _Window) -> int:
    """Adds the window's unsent requests to the shared counter; returns the shared count."""
    key = counter_key(token_hash=token_hash, window_start=counted.start, tenant_id=tenant_id)
    shared = int(_add_script()(keys=[key], args=[counted.length, counted.unsent]))
    counted.unsent = 0
    return shared


def _window_evicted(key: tuple[int, str], counted: _Window) -> None:
    """A window dropped from memory hands its unsent requests to Redis first: the count is
    the shared one, and the process's part of it must not vanish with the entry."""
    if counted.unsent and counted.start + counted.length > time.time():
        tenant_id, token_hash = key
        _add(tenant_id=tenant_id, token_hash=token_hash, counted=counted)


_windows: BoundedCache[tuple[int, str], _Window] = BoundedCache(
    max_entries=MAX_ENTRIES, on_evict=_window_evicted
)


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
    tenant_id = _tenant_id()
    key = (tenant_id, token_hash)
    counted = _windows.get(key)
    if counted is None or counted.start != window_start:
        # A window that has ended takes its unsent requests with it: they counted against it.
        counted = _Window(start=window_start, length=window)
        _windows.set(key, counted)
    counted.unsent += 1
    if counted.unsent >= _step(limit) or counted.shared + counted.unsent > limit:
        counted.shared = _add(tenant_id=tenant_id, token_hash=token_hash, counted=counted)
    return DeviceCount(
        throttled=counted.shared + counted.unsent > limit,
        retry_after=window_start + window - now,
    )


def devices_memory_clear() -> None:
    """Forgets every tablet and window this process holds; unsent requests go to Redis."""
    _known.clear()
    _windows.clear()
