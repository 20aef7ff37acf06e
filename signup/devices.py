"""Which tablet a device token belongs to, remembered in Redis, and its request count.

Every kiosk request needs both answers. Reading them from Redis in one script call replaces a
PostgreSQL query (device joined to its store) and a second Redis round trip (the rate limit).
The database stays the authority: a token Redis does not know is looked up there and remembered
for ``DEVICE_CACHE_SECONDS``.

Revocation must lock a tablet out at once, so the cache can never outlive it:
- revoking overwrites the entry with a ``revoked`` marker *before* the database write, so a
  Redis failure stops the revoke instead of leaving a revoked tablet remembered as paired;
- entries are only ever added with ``SET NX``, so a request that read the device just before
  the revoke cannot put it back over the marker; the marker outlives any such request.
Nothing is remembered in the process: every request asks Redis, which all processes share.

Keys carry the tenant row's id: a token of tenant A looked up on tenant B's host misses, is
looked up in B's schema, and is refused.
"""

import time
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.db import connection

from customerinfo.redis import redis_client, redis_key

from .models import Device, Location

#: How long a paired tablet is remembered; a store's country edit also forgets its tablets.
DEVICE_CACHE_SECONDS = 300
#: How long the revoked marker stays. It only has to outlive a request that read the device
#: from the database before the revoke and has not written it to the cache yet (seconds at most);
#: after it expires, a lookup finds the revocation in the database.
REVOKED_MARKER_SECONDS = 900
REVOKED = b"revoked"

# KEYS[1]: the remembered device of a token; KEYS[2]: that token's counter for this window.
# SET NX + INCR is a fixed-window counter that expires with its window.
_READ_AND_COUNT = """
redis.call('SET', KEYS[2], 0, 'EX', ARGV[1], 'NX')
return {redis.call('GET', KEYS[1]), redis.call('INCR', KEYS[2])}
"""


@lru_cache(maxsize=1)
def _read_and_count_script() -> "redis.commands.core.Script":
    # EVALSHA, loaded into Redis on first use (and again after a Redis restart).
    return redis_client().register_script(_READ_AND_COUNT)


# A revoked marker must stay: deleting it would let a request that read the device before the
# revoke put it back. Checked and deleted in one script, so a revoke cannot slip in between.
_FORGET_UNLESS_REVOKED = """
for _, key in ipairs(KEYS) do
    if redis.call('GET', key) ~= ARGV[1] then redis.call('DEL', key) end
end
"""


@lru_cache(maxsize=1)
def _forget_script() -> "redis.commands.core.Script":
    return redis_client().register_script(_FORGET_UNLESS_REVOKED)


def _tenant_id() -> int:
    return int(connection.tenant.pk)  # type: ignore[attr-defined]


def device_key(*, token_hash: str) -> str:
    return redis_key("kiosk-device", _tenant_id(), token_hash)


def counter_key(*, token_hash: str, window_start: int) -> str:
    return redis_key("throttle", _tenant_id(), "device", token_hash, window_start)


@dataclass(frozen=True)
class DeviceCount:
    """What Redis knows of a token: its device (``None``: not remembered), whether it was
    revoked, and how many requests it made in the current window, this one included."""

    device: Device | None
    revoked: bool
    count: int
    retry_after: int


def device_cache_read_and_count(*, token_hash: str, window: int) -> DeviceCount:
    now = int(time.time())
    window_start = now - now % window
    cached, count = _read_and_count_script()(
        keys=[
            device_key(token_hash=token_hash),
            counter_key(token_hash=token_hash, window_start=window_start),
        ],
        args=[window],
    )
    device = None
    if cached is not None and cached != REVOKED:
        device = _device_from_cache(cached)
    return DeviceCount(
        device=device,
        revoked=cached == REVOKED,
        count=int(count),
        retry_after=window_start + window - now,
    )


def _device_from_cache(value: bytes) -> Device:
    """A Device and its Location holding the fields a sign-up needs; the others are deferred,
    so code that reads them gets them from the database rather than a blank."""
    device_id, location_id, country = value.decode().split(":", 2)
    location = Location.from_db(connection.alias, ["id", "country"], [int(location_id), country])
    device = Device.from_db(connection.alias, ["id", "location_id"], [int(device_id), location.pk])
    Device.location.field.set_cached_value(device, location)
    return device


def device_cache_fill(*, device: Device) -> None:
    """Remembers a paired device read from the database; never overwrites a revoked marker."""
    value = f"{device.pk}:{device.location_id}:{device.location.country}"
    redis_client().set(
        device_key(token_hash=device.token_hash), value, ex=DEVICE_CACHE_SECONDS, nx=True
    )


def device_cache_revoke(*, token_hash: str) -> None:
    """Replaces whatever is remembered of this token by the revoked marker."""
    redis_client().set(device_key(token_hash=token_hash), REVOKED, ex=REVOKED_MARKER_SECONDS)


def device_cache_forget(*, token_hashes: list[str]) -> None:
    """Drops remembered devices (their store changed), unless they are marked revoked."""
    if token_hashes:
        keys = [device_key(token_hash=token_hash) for token_hash in token_hashes]
        _forget_script()(keys=keys, args=[REVOKED])
