"""In-process rate limiters and call budget: for one process, tests and the simulator demo."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from engine.timelinesai.ratelimit.base import budget_exhausted, month_of, wait_exceeded


class NoLimit:
    """A rate limiter that admits every call at once."""

    def acquire(self) -> None:
        """Return immediately."""


class MemoryRateLimiter:
    """The sliding window of :class:`RedisRateLimiter`, shared by the threads of one process.

    ``monotonic`` and ``sleep`` are real time by default; tests pass a fake pair.
    """

    def __init__(
        self,
        requests_per_minute: int = 50,
        *,
        max_wait_s: float = 30.0,
        window_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_minute < 1 or window_s <= 0 or max_wait_s < 0:
            raise ValueError("rate limit, window and wait bound must be positive")
        self._limit = requests_per_minute
        self._window_s = window_s
        self._max_wait_s = max_wait_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._admitted: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Wait for a slot; raise ``RateLimitWaitExceeded`` rather than wait past the bound."""
        started = self._monotonic()
        while True:
            wait_s = self._try_admit()
            if wait_s == 0:
                return
            waited_s = self._monotonic() - started
            if waited_s + wait_s > self._max_wait_s:
                raise wait_exceeded(self._limit, self._window_s, self._max_wait_s, waited_s)
            self._sleep(wait_s)

    def _try_admit(self) -> float:
        """Admit now and return 0, or return the seconds until the oldest call leaves the window."""
        with self._lock:
            now = self._monotonic()
            while self._admitted and self._admitted[0] <= now - self._window_s:
                self._admitted.popleft()
            if len(self._admitted) < self._limit:
                self._admitted.append(now)
                return 0.0
            return self._admitted[0] + self._window_s - now


class MemoryCallBudget:
    """The monthly call counter of :class:`CallBudget`, kept in this process."""

    def __init__(
        self, monthly_call_budget: int = 200_000, *, now: Callable[[], datetime] | None = None
    ) -> None:
        self._budget = monthly_call_budget
        self._now = now or (lambda: datetime.now(UTC))
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def monthly_call_budget(self) -> int:
        return self._budget

    def charge(self) -> None:
        """Count one call; raise ``CallBudgetExhausted`` (counting nothing) once used up."""
        month = month_of(self._now())
        with self._lock:
            used = self._used.get(month, 0)
            if used >= self._budget:
                raise budget_exhausted(self._budget, used)
            self._used[month] = used + 1

    def used(self, month: str | None = None) -> int:
        """Calls counted in ``month`` (``YYYY-MM``, UTC), the current month by default."""
        with self._lock:
            return self._used.get(month or month_of(self._now()), 0)
