"""The runtime clock: real time, or real time sped up for demos and end-to-end tests.

Virtual now = epoch + (real now - epoch) * speed. Every wait the runtime makes is
the virtual duration divided by the speed, so at speed 1000 a 30-150 s jitter
lasts 30-150 ms while windows, quota days and delays keep their real meaning.
Processes that share a fast clock must share its epoch (``[clock] epoch``).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the runtime needs of time: the virtual now and real waits for virtual durations."""

    @property
    def speed(self) -> float: ...

    def now(self) -> datetime:
        """The virtual time now, timezone-aware UTC."""
        ...

    def real_seconds(self, virtual_s: float) -> float:
        """How many real seconds a virtual duration of ``virtual_s`` seconds lasts."""
        ...

    def sleep(self, virtual_s: float) -> None:
        """Wait a virtual duration (a real wait of ``virtual_s / speed`` seconds)."""
        ...


class SystemClock:
    """The system clock, optionally sped up by ``speed`` around a shared ``epoch``."""

    def __init__(self, speed: float = 1.0, epoch: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self._speed = float(speed)
        self._epoch = epoch if epoch is not None else datetime.now(UTC)
        if self._epoch.tzinfo is None:
            raise ValueError("clock epoch must be timezone-aware")

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def epoch(self) -> datetime:
        return self._epoch

    def now(self) -> datetime:
        return self.virtual_time_of(datetime.now(UTC))

    def real_seconds(self, virtual_s: float) -> float:
        return max(0.0, virtual_s) / self._speed

    def real_time_of(self, virtual: datetime) -> datetime:
        """The real (wall) moment at which the virtual clock shows ``virtual``."""
        return self._epoch + (virtual - self._epoch) / self._speed

    def virtual_time_of(self, real: datetime) -> datetime:
        """What the virtual clock shows at the real (wall) moment ``real``."""
        if self._speed == 1.0:
            return real
        return self._epoch + (real - self._epoch) * self._speed

    def sleep(self, virtual_s: float) -> None:
        time.sleep(self.real_seconds(virtual_s))


class FakeClock:
    """A clock tests move by hand; ``sleep`` advances it instead of waiting. Thread-safe."""

    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        self._now = start if start is not None else datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._speed = speed
        self._lock = threading.Lock()

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def real_seconds(self, virtual_s: float) -> float:
        return max(0.0, virtual_s) / self._speed

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move the clock forward by ``seconds`` (and any ``timedelta`` keywords)."""
        with self._lock:
            self._now += timedelta(seconds=seconds, **delta)
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def sleep(self, virtual_s: float) -> None:
        self.advance(max(0.0, virtual_s))
