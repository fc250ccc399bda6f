"""Sign-in attempts, limited: a few per name and more per address, then a wait.

An attempt counts from the moment it is made (before its password is checked, so a
burst of them in parallel is limited too); a successful one is forgiven, and clears
its name's count (not its address's: signing in as oneself does not reset what others
tried from there). In memory: the console is one process. Every call takes ``now``
(seconds on any monotonic scale).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

__all__ = ["LoginThrottle"]


@dataclass
class LoginThrottle:
    """At most ``per_name`` failed sign-ins for one name and ``per_address`` from one
    address within ``window_s``. An address is often shared (an office, a tunnel, a
    proxy), so it gets more."""

    per_name: int = 5
    per_address: int = 20
    window_s: float = 300.0
    _attempts: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, name: str, address: str, now: float) -> float:
        """Count an attempt of ``name`` from ``address`` and answer 0, or answer the
        seconds before it may try again (and count nothing)."""
        with self._lock:
            wait = 0.0
            for key, limit in self._limits(name, address):
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = max(wait, times[0] + self.window_s - now)
            if wait > 0:
                return wait
            for key, _ in self._limits(name, address):
                self._recent(key, now).append(now)
            return 0.0

    def succeeded(self, name: str, address: str) -> None:
        """The attempt was right: forgive it, and clear the name's count."""
        with self._lock:
            self._attempts.pop(("name", name.lower()), None)
            times = self._attempts.get(("address", address))
            if times:
                times.pop()

    def _limits(self, name: str, address: str) -> list[tuple[tuple[str, str], int]]:
        return [(("name", name.lower()), self.per_name), (("address", address), self.per_address)]

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._attempts.setdefault(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(self._attempts) > 10_000:  # a flood of names must not grow memory forever
            for stale in [k for k, v in self._attempts.items() if not v]:
                del self._attempts[stale]
        return times
