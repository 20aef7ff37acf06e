"""CPU time a server spends per request: its gunicorn processes plus its PostgreSQL backends.

Requests per second on a shared two-core machine follow whatever else runs there; the CPU time
the server's own processes spend per request does not (the same work costs the same
milliseconds, whoever else is busy). bench/submissions.py prints both: the throughput ratio the
target is set on, and this cost ratio, which says what the ratio is on a quiet machine.

Read from /proc while a load runs: a sampler notes every process of the gunicorn tree and every
backend connected to the server's database every quarter second, so processes that start during
the run (a renewed database connection) count from zero and those that end keep what they spent
up to their last sample. Linux only.

Imported by bench/submissions.py (run it, not this module).
"""

import os
import threading
from collections.abc import Callable
from pathlib import Path

from bench import support

_TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.25


def process_tree(root: int) -> set[int]:
    """``root`` and all its descendants (gunicorn's master and its workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if (
            entry.name.isdigit()
            and (fields := support.proc_stat_fields(int(entry.name))) is not None
        ):
            parents[int(entry.name)] = int(fields[1])
    tree, grew = {root}, True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    return tree


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of one process so far, or None once it has ended."""
    fields = support.proc_stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


class CpuSampler:
    """CPU spent by changing groups of processes between ``start()`` and ``stop()``."""

    def __init__(self, groups: Callable[[], dict[str, set[int]]]) -> None:
        self._groups = groups
        self._group_of: dict[int, str] = {}
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, *, initial: bool) -> None:
        for group, pids in self._groups().items():
            for pid in pids:
                self._group_of[pid] = group
        for pid in self._group_of:
            seconds = cpu_seconds(pid)
            if seconds is None:
                continue
            # A process first seen after the start began during the run: all its time counts.
            self._first.setdefault(pid, seconds if initial else 0.0)
            self._last[pid] = seconds

    def _run(self) -> None:
        while not self._stopping.wait(SAMPLE_SECONDS):
            self._sample(initial=False)

    def start(self) -> None:
        self._sample(initial=True)
        self._thread.start()

    def stop(self) -> dict[str, float]:
        """Seconds of CPU spent since ``start()``, per group."""
        self._stopping.set()
        self._thread.join()
        self._sample(initial=False)
        spent = dict.fromkeys(set(self._group_of.values()), 0.0)
        for pid, last in self._last.items():
            spent[self._group_of[pid]] += last - self._first[pid]
        return spent
