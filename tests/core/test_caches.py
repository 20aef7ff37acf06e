"""The bounded per-process cache: its bound, its eviction order, expiry and eviction callbacks."""

import threading
from collections import OrderedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customerinfo.core.caches import BoundedCache


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_least_recently_used_entry_goes_first_one_at_a_time() -> None:
    dropped: list[tuple[str, int]] = []
    cache: BoundedCache[str, int] = BoundedCache(
        max_entries=3, on_evict=lambda key, value: dropped.append((key, value))
    )
    for index, key in enumerate("abc"):
        cache.set(key, index)
    assert cache.get("a") == 0  # "a" is now the most recent; "b" the oldest
    cache.set("d", 3)
    assert dropped == [("b", 1)]
    assert cache.oldest_first() == ["c", "a", "d"]
    assert len(cache) == 3
    assert cache.get("b") is None


def test_overwriting_a_key_does_not_evict_and_refreshes_it() -> None:
    cache: BoundedCache[str, int] = BoundedCache(max_entries=2)
    cache.set("a", 1)
    cache.set("b", 2)
    cache.set("a", 10)
    cache.set("c", 3)
    assert cache.oldest_first() == ["a", "c"]
    assert cache.get("a") == 10


def test_an_entry_expires_after_its_ttl_and_is_handed_to_on_evict() -> None:
    clock = Clock()
    dropped: list[tuple[str, int]] = []
    cache: BoundedCache[str, int] = BoundedCache(
        max_entries=10,
        ttl=30,
        clock=clock,
        on_evict=lambda key, value: dropped.append((key, value)),
    )
    cache.set("a", 1)
    clock.now += 29.9
    assert cache.get("a") == 1
    assert "a" in cache
    clock.now += 0.1
    assert "a" not in cache
    assert cache.get("a") is None
    assert dropped == [("a", 1)]
    assert len(cache) == 0


def test_reading_does_not_extend_the_ttl() -> None:
    clock = Clock()
    cache: BoundedCache[str, int] = BoundedCache(max_entries=10, ttl=10, clock=clock)
    cache.set("a", 1)
    clock.now += 9
    assert cache.get("a") == 1
    clock.now += 1
    assert cache.get("a") is None


def test_pop_returns_the_value_without_calling_on_evict() -> None:
    dropped: list[tuple[str, int]] = []
    cache: BoundedCache[str, int] = BoundedCache(
        max_entries=2, on_evict=lambda key, value: dropped.append((key, value))
    )
    cache.set("a", 1)
    assert cache.pop("a") == 1
    assert cache.pop("a") is None
    assert dropped == []


def test_clear_hands_every_entry_to_on_evict() -> None:
    dropped: list[tuple[str, int]] = []
    cache: BoundedCache[str, int] = BoundedCache(
        max_entries=5, on_evict=lambda key, value: dropped.append((key, value))
    )
    cache.set("a", 1)
    cache.set("b", 2)
    cache.clear()
    assert sorted(dropped) == [("a", 1), ("b", 2)]
    assert len(cache) == 0


@pytest.mark.parametrize(("max_entries", "ttl"), [(0, None), (1, 0.0)])
def test_a_cache_that_could_hold_nothing_is_refused(max_entries: int, ttl: float | None) -> None:
    with pytest.raises(ValueError, match="must be"):
        BoundedCache[str, int](max_entries=max_entries, ttl=ttl)


operations = st.lists(
    st.tuples(st.sampled_from(["get", "set", "pop"]), st.integers(min_value=0, max_value=12)),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(max_entries=st.integers(min_value=1, max_value=6), steps=operations)
def test_the_cache_behaves_as_a_model_lru_and_never_exceeds_its_bound(
    max_entries: int, steps: list[tuple[str, int]]
) -> None:
    """Against a plain ordered dict doing LRU by hand: same contents, same order, same evictions,
    and never more than the bound; every value set is either present, popped or evicted."""
    dropped: list[tuple[int, int]] = []
    cache: BoundedCache[int, int] = BoundedCache(
        max_entries=max_entries, on_evict=lambda key, value: dropped.append((key, value))
    )
    model: OrderedDict[int, int] = OrderedDict()
    expected_dropped: list[tuple[int, int]] = []
    for serial, (operation, key) in enumerate(steps):
        if operation == "set":
            cache.set(key, serial)
            model[key] = serial
            model.move_to_end(key)
            if len(model) > max_entries:
                expected_dropped.append(model.popitem(last=False))
        elif operation == "get":
            assert cache.get(key) == model.get(key)
            if key in model:
                model.move_to_end(key)
        else:
            assert cache.pop(key) == model.pop(key, None)
        assert len(cache) <= max_entries
        assert cache.oldest_first() == list(model)
    assert dropped == expected_dropped


def test_threads_writing_at_once_keep_the_bound() -> None:
    cache: BoundedCache[tuple[int, int], int] = BoundedCache(max_entries=50)

    def write(thread: int) -> None:
        for index in range(2000):
            cache.set((thread, index), index)
            cache.get((thread, index - 1))

    threads = [threading.Thread(target=write, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 50
