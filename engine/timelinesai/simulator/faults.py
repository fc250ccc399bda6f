"""Fault injection: latency, a rate limit and 429 bursts, 5xx, timeouts after a send.

Every decision reads the current config (it can change at runtime) and draws from
the simulator's seeded random generator, so a seeded run repeats.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from engine.timelinesai.simulator.config import SimulatorConfig

_MINUTE_S = 60.0


@dataclass(frozen=True)
class Fault:
    """An error answer given instead of handling the request."""

    status_code: int
    message: str
    name: str


class FaultInjector:
    """Decides, request by request, which fault (if any) the simulator applies."""

    def __init__(
        self,
        config: Callable[[], SimulatorConfig],
        rng: random.Random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._rng = rng
        self._monotonic = monotonic
        self._seen = 0
        self._admitted: deque[float] = deque()

    def reset(self) -> None:
        """Forget the request count and the rate limit window."""
        self._seen = 0
        self._admitted.clear()

    def latency_s(self) -> float:
        """How long (real seconds) to hold this request before handling it."""
        low, high = self._config().latency_ms
        return self._rng.uniform(low, high) / 1000

    def rate_limited(self) -> Fault | None:
        """A 429 inside a burst, or past ``rate_limit_per_minute`` in the last real minute."""
        config = self._config()
        position = self._seen
        self._seen += 1
        if config.burst_429_every and config.burst_429_length:
            cycle = config.burst_429_every + config.burst_429_length
            if position % cycle >= config.burst_429_every:
                return Fault(429, "Too many requests", "burst_429")
        if config.rate_limit_per_minute:
            now = self._monotonic()
            while self._admitted and self._admitted[0] <= now - _MINUTE_S:
                self._admitted.popleft()
            if len(self._admitted) >= config.rate_limit_per_minute:
                return Fault(429, "Too many requests", "rate_limit")
            self._admitted.append(now)
        return None

    def server_error(self) -> Fault | None:
        """A 500 for a share ``error_rate`` of requests."""
        if self._rng.random() < self._config().error_rate:
            return Fault(500, "Internal server error", "error_rate")
        return None

    def times_out_after_record(self) -> bool:
        """True when this send is recorded but its answer stalls or is dropped."""
        return self._rng.random() < self._config().timeout_after_record_rate
