"""The workspace-wide stop on sending (a refused token, the month's API budget spent).

A tripped halt lasts ``ttl_s`` real seconds, then one send probes the API again: a
fixed token resumes sending by itself, a still-bad one trips the halt again.
Kept in Redis so every worker sees it; losing it costs one probing send.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import redis


class SendingHalt(Protocol):
    """Whether sending is stopped for the whole workspace."""

    def trip(self, now: datetime) -> None:
        """Stop all sending for a while."""
        ...

    def active(self) -> bool:
        """True while sending is stopped."""
        ...


def halt_key(namespace: str) -> str:
    """The Redis key of the workspace halt; its value is the virtual time it was tripped."""
    return f"{namespace}:halt"


def read_halt(client: redis.Redis, namespace: str) -> tuple[bool, datetime | None]:
    """Whether the halt is tripped now, and when (for ``outreach status``); raises
    ``redis.RedisError`` when Redis does not answer."""
    value = client.get(halt_key(namespace))
    if value is None:
        return False, None
    try:
        text = value.decode() if isinstance(value, bytes) else str(value)
        return True, datetime.fromisoformat(text)
    except ValueError:
        return True, None


class RedisHalt:
    """The halt as one Redis key with a TTL: ``<namespace>:halt``.

    ``active`` asks Redis at most once per ``recheck_s`` real seconds per process: a halt
    lasts minutes, so a second's delay in seeing another process trip it costs little,
    while asking on every send would add a round trip to each. ``monotonic`` is real
    time by default; tests pass a fake one.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        ttl_s: float,
        recheck_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        also: tuple[str, ...] = (),
    ) -> None:
        self._client = client
        # Halts kept by others under their own keys (the workspace message quota,
        # engine.workspace_quota): asked in the same round trip, never tripped here.
        self._also = also
        self._monotonic = monotonic
        self._key = halt_key(namespace)
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._recheck_s = recheck_s
        self._known = False
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def trip(self, now: datetime) -> None:
        self._client.set(self._key, now.isoformat(), px=self._ttl_ms)
        with self._lock:
            self._known, self._checked_at = True, self._monotonic()

    def active(self) -> bool:
        with self._lock:
            if self._monotonic() - self._checked_at < self._recheck_s:
                return self._known
        known = bool(self._client.exists(self._key, *self._also))
        with self._lock:
            self._known, self._checked_at = known, self._monotonic()
        return known


class MemoryHalt:
    """The halt inside one process, for tests; ``monotonic`` is real time by default."""

    def __init__(
        self, ttl_s: float = 300.0, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._until = 0.0
        self._lock = threading.Lock()

    def trip(self, now: datetime) -> None:
        with self._lock:
            self._until = self._monotonic() + self._ttl_s

    def active(self) -> bool:
        with self._lock:
            return self._monotonic() < self._until
