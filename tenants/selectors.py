"""Reads of tenants, for routing and for the operator.

Every request needs to know which tenant its host belongs to, and that changes only when a
tenant or a domain is created, provisioned, changed or deleted. Each process therefore keeps the
host-to-tenant map in memory: read whole in one query the first time it is needed, and read again
only after it has changed. A change is announced by ``hosts_changed`` (every change or deletion
of a ``Tenant`` or ``Domain`` calls it through signals, ``tenants.signals``; code that writes
them with ``update()`` calls it itself): it empties this process's map at once and, after
commit, increments a version number in Redis; every process compares its version with Redis's
at most once every ``HOST_VERSION_CHECK_SECONDS`` and reloads the map only if they differ. A
quiet installation thus never reloads, where it used to read each host again every 30 seconds
in every process.

The map holds at most ``HOSTS_KEPT`` hosts (the least recently used go first); a host not in it,
because it is new, past the bound, unknown or still being provisioned, is read by itself. The
reads go through the tenant's own connection, which finds the public tables behind the tenant's
schema on its ``search_path``: no switch to public and back.
"""

import logging
import time
from threading import Lock
from typing import Any

import redis
from django.db import transaction

from customerinfo.core.caches import BoundedCache
from customerinfo.core.redis import redis_client, redis_key

from .models import Domain, Tenant

logger = logging.getLogger(__name__)

#: Hosts a process keeps (a Tenant row each, well under 1 kB).
HOSTS_KEPT = 20_000
#: How stale another process's change of a tenant or domain can be here, at most.
HOST_VERSION_CHECK_SECONDS = 1.0

_hosts: BoundedCache[str, Tenant] = BoundedCache(max_entries=HOSTS_KEPT)
#: When the version was last compared (a name of its own, so tests can move it).
_clock = time.monotonic


class _MapState:
    """Which version of the map this process holds, and when it last compared it with Redis."""

    def __init__(self) -> None:
        self.lock = Lock()
        #: None: not loaded (first use, or a change was announced in this process).
        self.version: bytes | None = None
        self.loaded = False
        self.checked_at = float("-inf")


_state = _MapState()


def _version_key() -> str:
    return redis_key("tenants", "hosts-version")


def _shared_version() -> bytes | None:
    """Redis's version of the map; None if unknown (never changed, or Redis unreachable)."""
    try:
        value: Any = redis_client().get(_version_key())
    except redis.RedisError:
        logger.warning("host map version unreadable; reloading the map", exc_info=True)
        return None
    return bytes(value) if value is not None else b"0"


def _load() -> None:
    """Every ready tenant's hosts, in one query (the first ``HOSTS_KEPT``)."""
    domains = (
        Domain.objects.select_related("tenant")
        .filter(tenant__ready=True)
        .order_by("pk")[:HOSTS_KEPT]
    )
    for domain in domains:
        _hosts.set(domain.domain, domain.tenant)


def _map_current() -> None:
    now = _clock()
    if _state.loaded and now - _state.checked_at < HOST_VERSION_CHECK_SECONDS:
        return
    with _state.lock:
        if _state.loaded and now - _state.checked_at < HOST_VERSION_CHECK_SECONDS:
            return
        version = _shared_version()
        if not _state.loaded or version is None or version != _state.version:
            _hosts.clear()
            _load()
            _state.loaded = True
        _state.version = version
        _state.checked_at = now


def tenant_for_host(*, host: str) -> Tenant | None:
    _map_current()
    tenant = _hosts.get(host)
    if tenant is not None:
        return tenant
    domain = Domain.objects.select_related("tenant").filter(domain=host).first()
    tenant = domain.tenant if domain else None
    # A tenant still being provisioned is not kept: it is served once ready, without waiting for
    # the change to reach this process.
    if tenant is not None and tenant.ready:
        _hosts.set(host, tenant)
    return tenant


def host_cache_clear() -> None:
    """Forgets the map: the next request reads it again."""
    with _state.lock:
        _hosts.clear()
        _state.loaded = False


def hosts_changed() -> None:
    """A tenant or domain changed: this process forgets its map now, every process after commit.

    Called inside the writing transaction; the map is cleared again after commit, so a request
    of this process that read the old rows meanwhile does not keep them."""
    host_cache_clear()

    def announce() -> None:
        host_cache_clear()
        try:
            redis_client().incr(_version_key())
        except redis.RedisError:
            # Every process reloads when it cannot read the version either, so a Redis outage
            # costs reloads, not a stale map.
            logger.warning("host map change not announced", exc_info=True)

    transaction.on_commit(announce)


def hosts_kept() -> int:
    """How many hosts this process has in memory (for tests and the operator)."""
    return len(_hosts)
