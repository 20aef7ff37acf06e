"""The process's Redis connection pool, and key names that respect the cache's key prefix."""

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    # One connection per process, held rather than taken from a pool for each call: the pool's
    # check-out (a lock and a poll of the socket) was a third of the kiosk call's client CPU.
    # redis-py serialises threads on it with a lock and reconnects after an error.
    return redis.Redis.from_url(settings.REDIS_URL, single_connection_client=True)


def redis_key(*parts: object) -> str:
    """A key under the cache's prefix, so test runs and deployments sharing a Redis stay apart."""
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    return ":".join([str(prefix), *(str(part) for part in parts)])
