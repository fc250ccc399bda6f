"""Sign-in attempts, limited: a few failures per address and per name, then a wait.

In memory: the console is one process. Pure apart from its own counts; every call
takes ``now`` (seconds on any monotonic scale).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["LoginThrottle"]


@dataclass
class LoginThrottle:
    """At most ``max_failures`` failed sign-ins per key within ``window_s``."""

    max_failures: int = 5
    window_s: float = 300.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def wait_s(self, keys: list[str], now: float) -> float:
        """Seconds before any of ``keys`` may try again (0: now)."""
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.max_failures:
                wait = max(wait, times[0] + self.window_s - now)
        return wait

    def failed(self, keys: list[str], now: float) -> None:
        for key in keys:
            self._recent(key, now).append(now)

    def succeeded(self, keys: list[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(self._failures) > 10_000:  # a flood of names must not grow memory forever
            for stale in [k for k, v in self._failures.items() if not v]:
                del self._failures[stale]
        return times
