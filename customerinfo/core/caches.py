"""A bounded in-process cache: least recently used first out, optionally expiring.

Each web or worker process keeps a few answers in memory that it would otherwise ask PostgreSQL
or Redis for on every request (which tenant a host is, a form version, a tablet). A process
lives for days and may see every tenant of the installation, so no such memory may grow with
the number of tenants, tablets or hosts: each is a ``BoundedCache`` with a fixed number of
entries. Past the bound it drops the one entry used longest ago, never everything at once, so
a burst of new keys costs the process those keys' misses and nothing more.

An owner whose entries hold something that must not be lost (a count not yet written to Redis)
passes ``on_evict``: it is called with each entry dropped for room, expiry or ``clear``,
outside the lock (it may do I/O), so what it does must not depend on the order of entries
(an addition to a Redis counter, say).
Thread-safe: Django may serve requests from threads, and Celery from a pool of them.
"""

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Generic, TypeVar, cast

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``max_entries`` entries; each read or write makes its entry the most recent.

    With ``ttl`` (seconds), an entry older than that is treated as absent and dropped when read.
    Expired entries still count toward the bound until read or pushed out, so the bound holds
    without a sweep.
    """

    def __init__(
        self,
        *,
        max_entries: int,
        ttl: float | None = None,
        on_evict: Callable[[K, V], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        if ttl is not None and ttl <= 0:
            raise ValueError("ttl must be positive")
        self.max_entries = max_entries
        self.ttl = ttl
        self._on_evict = on_evict
        self._clock = clock
        # key -> (expiry or +inf, value), oldest use first.
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = Lock()

    def get(self, key: K) -> V | None:
        """The value for ``key`` (now the most recent), or None if absent or expired."""
        expired: V | None = None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                expired = entry[1]
            else:
                self._entries.move_to_end(key)
                return entry[1]
        self._evicted([(key, expired)])
        return None

    def set(self, key: K, value: V) -> None:
        """Stores ``value``; drops the least recently used entries past the bound."""
        expiry = float("inf") if self.ttl is None else self._clock() + self.ttl
        dropped: list[tuple[K, V]] = []
        with self._lock:
            self._entries[key] = (expiry, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                old_key, (_, old_value) = self._entries.popitem(last=False)
                dropped.append((old_key, old_value))
        self._evicted(dropped)

    def pop(self, key: K) -> V | None:
        """Removes ``key`` and returns its value (None if absent); ``on_evict`` is not called:
        the caller has the value."""
        with self._lock:
            entry = self._entries.pop(key, None)
        return None if entry is None else entry[1]

    def clear(self) -> None:
        """Forgets everything; ``on_evict`` is called for each entry, as for an eviction."""
        with self._lock:
            dropped = [(key, value) for key, (_, value) in self._entries.items()]
            self._entries.clear()
        self._evicted(dropped)

    def oldest_first(self) -> list[K]:
        """The keys, least recently used first (expired ones included until dropped)."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            entry = self._entries.get(cast(K, key))
            return entry is not None and entry[0] > self._clock()

    def _evicted(self, dropped: list[tuple[K, V]]) -> None:
        if self._on_evict is None:
            return
        for key, value in dropped:
            self._on_evict(key, value)
