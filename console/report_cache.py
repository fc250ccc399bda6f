"""The campaigns' funnels for the console: computed once, by one thread, served from memory.

A funnel is a ``GROUP BY`` over a campaign's messages and enrollments: about 1.7 s for
1,000,000 enrollments on PostgreSQL (``bench/console.py``). A page must answer in a
fraction of that, and ten people with the overview open must not run ten of them. So
each report (every campaign, or one campaign by name) is kept with the moment it was
computed and the data version it saw (:func:`console.freshness.data_version`):

- the first request for a report computes it while it waits (one request per report:
  others asking meanwhile wait for the same result);
- a later request is answered at once with what is kept; when that is older than
  ``max_age_s`` real seconds, one recomputation starts in the background, which only
  touches the data when its version moved (an idle deployment computes nothing);
- ``max_age_s = 0`` computes on every request (what tests of the pages use).

Pages say how old their funnels are ("as of ...").
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from engine.clock import Clock

__all__ = ["Kept", "ReportCache", "in_a_thread"]

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Kept(Generic[T]):
    """A report as computed: its value, when (engine clock) and on which data version."""

    value: T
    as_of: datetime
    version: str
    computed_at: float  # time.monotonic() at the start of the computation


def in_a_thread(work: Callable[[], None]) -> None:
    """Run ``work`` in a daemon thread of its own (a recomputation in the background)."""
    threading.Thread(target=work, name="console-report", daemon=True).start()


class ReportCache:
    """Reports kept in memory, refreshed in the background when the data moved."""

    def __init__(
        self, clock: Clock, version: Callable[[], str], *, max_age_s: float,
        run: Callable[[Callable[[], None]], None] = in_a_thread,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self._clock = clock
        self._version = version
        self._max_age_s = max_age_s
        self._run = run
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._kept: dict[Hashable, Kept[Any]] = {}
        self._first: dict[Hashable, threading.Lock] = {}
        self._refreshing: set[Hashable] = set()
        self._generation = 0  # moved by clear(): a refresh begun before it is dropped

    def get(self, key: Hashable, compute: Callable[[], T]) -> Kept[T]:
        """The report ``key``: kept, or computed now when there is none (or caching is off)."""
        if self._max_age_s <= 0:
            return self._compute(compute)
        with self._lock:
            kept = self._kept.get(key)
            first = self._first.setdefault(key, threading.Lock()) if kept is None else None
        if first is not None:
            with first:  # one computation of a first report; the others wait for it
                with self._lock:
                    kept, generation = self._kept.get(key), self._generation
                if kept is None:
                    kept = self._compute(compute)
                    with self._lock:
                        if generation == self._generation:
                            self._kept[key] = kept
            return kept
        assert kept is not None
        if self._monotonic() - kept.computed_at >= self._max_age_s:
            with self._lock:
                start = key not in self._refreshing
                self._refreshing.add(key)
                generation = self._generation
            if start:
                self._run(lambda: self._refresh(key, kept, compute, generation))
        return kept

    def clear(self) -> None:
        """Forget every report: the next request computes afresh (after an action)."""
        with self._lock:
            self._kept.clear()
            self._generation += 1

    def _compute(self, compute: Callable[[], T]) -> Kept[T]:
        started, as_of, version = self._monotonic(), self._clock.now(), self._version()
        return Kept(compute(), as_of, version, started)

    def _refresh(
        self, key: Hashable, kept: Kept[T], compute: Callable[[], T], generation: int
    ) -> None:
        try:
            version = self._version()
            if version == kept.version:  # nothing moved: the kept report is current
                fresh = replace(kept, as_of=self._clock.now(), computed_at=self._monotonic())
            else:
                fresh = self._compute(compute)
            with self._lock:
                if generation == self._generation:
                    self._kept[key] = fresh
        except Exception:  # the page keeps showing what it had, with its age
            log.exception("recomputing the console's report %r failed", key)
        finally:
            with self._lock:
                self._refreshing.discard(key)
