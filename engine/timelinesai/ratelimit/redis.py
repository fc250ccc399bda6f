"""The workspace-wide rate limiter and monthly call budget, shared through Redis.

The limiter is a sliding window log in one Lua script: the sorted set holds the
moment of every admitted call, so no window of ``window_s`` real seconds ever holds
more than the limit, whichever process or host made the calls. Moments come from
Redis's own clock, so hosts with skewed clocks still agree.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import redis

from engine.errors import ServiceUnavailableError
from engine.timelinesai.ratelimit.base import budget_exhausted, month_of, wait_exceeded

# KEYS[1] the window's sorted set; ARGV: limit, window (µs), a unique member.
# Returns {1, 0} when admitted, else {0, µs until the oldest call leaves the window}.
# With KEYS[2], the month's call counter (ARGV: ..., budget, ttl in s), the call is
# also charged, in the same round trip: {-1, 0} when the budget is used up (nothing
# counted), and a call is counted only once admitted.
_ACQUIRE = """
local budget = KEYS[2]
if budget and tonumber(redis.call('GET', budget) or '0') >= tonumber(ARGV[4]) then
  return {-1, 0}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  if budget and redis.call('INCR', budget) == 1 then
    redis.call('EXPIRE', budget, ARGV[5])
  end
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""

# KEYS[1] the month's counter; ARGV: budget, ttl (s). Returns the new count, or -1
# without counting when the budget is used up.
_CHARGE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used >= tonumber(ARGV[1]) then
  return -1
end
used = redis.call('INCR', KEYS[1])
if used == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return used
"""

# A month's counter outlives the month by enough for `outreach` to report on it.
_BUDGET_TTL_S = 40 * 24 * 3600
# Waiters that wake together for the same freed slot are spread by up to this much.
_WAKE_JITTER_S = 0.01


def _unavailable(exc: redis.RedisError) -> ServiceUnavailableError:
    return ServiceUnavailableError(
        f"Redis did not answer ({exc}); start it or fix the Redis URL in the config"
    )


class RedisRateLimiter:
    """At most ``requests_per_minute`` calls in any ``window_s`` real seconds, across processes.

    ``window_s`` is 60 s in production; tests shorten it without changing the
    meaning. ``acquire`` waits at most ``max_wait_s`` real seconds. Given a ``budget``,
    ``acquire`` also charges it in the same script (one round trip per call instead of
    two): a call is counted only once admitted, and none is admitted over the budget.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        namespace: str,
        requests_per_minute: int = 50,
        max_wait_s: float = 30.0,
        window_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        budget: CallBudget | None = None,
    ) -> None:
        if requests_per_minute < 1 or window_s <= 0 or max_wait_s < 0:
            raise ValueError("rate limit, window and wait bound must be positive")
        self._key = f"{namespace}:timelinesai:ratelimit"
        self._limit = requests_per_minute
        self._window_s = window_s
        self._window_us = round(window_s * 1_000_000)
        self._max_wait_s = max_wait_s
        self._sleep = sleep
        self._budget = budget
        self._script = redis_client.register_script(_ACQUIRE)

    def acquire(self) -> None:
        """Wait for a slot; raise ``RateLimitWaitExceeded`` rather than wait past the bound
        (and ``CallBudgetExhausted``, counting nothing, when the budget is used up)."""
        started = time.monotonic()
        while True:
            keys = [self._key]
            args: list[int | str] = [self._limit, self._window_us, uuid.uuid4().hex]
            if self._budget is not None:
                keys.append(self._budget.key())
                args += [self._budget.monthly_call_budget, _BUDGET_TTL_S]
            try:
                admitted, wait_us = self._script(keys=keys, args=args)
            except redis.RedisError as exc:
                raise _unavailable(exc) from exc
            if admitted == 1:
                return
            if admitted == -1 and self._budget is not None:
                budget = self._budget.monthly_call_budget
                raise budget_exhausted(budget, budget)
            waited_s = time.monotonic() - started
            wait_s = max(int(wait_us), 1000) / 1_000_000
            if waited_s + wait_s > self._max_wait_s:
                raise wait_exceeded(self._limit, self._window_s, self._max_wait_s, waited_s)
            self._sleep(wait_s + random.uniform(0, _WAKE_JITTER_S))


class CallBudget:
    """The month's TimelinesAI API calls counted in Redis against ``monthly_call_budget``."""

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        namespace: str,
        monthly_call_budget: int = 200_000,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._redis = redis_client
        self._prefix = f"{namespace}:timelinesai:calls:"
        self._budget = monthly_call_budget
        # The budget is TimelinesAI's real calendar month, never the sped-up clock.
        self._now = now or (lambda: datetime.now(UTC))
        self._script = redis_client.register_script(_CHARGE)

    @property
    def monthly_call_budget(self) -> int:
        return self._budget

    def key(self) -> str:
        """The Redis key of the current month's counter."""
        return self._prefix + month_of(self._now())

    def charge(self) -> None:
        """Count one call; raise ``CallBudgetExhausted`` (counting nothing) once used up."""
        try:
            used = int(self._script(keys=[self.key()], args=[self._budget, _BUDGET_TTL_S]))
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc
        if used < 0:
            raise budget_exhausted(self._budget, self._budget)

    def used(self, month: str | None = None) -> int:
        """Calls counted in ``month`` (``YYYY-MM``, UTC), the current month by default."""
        try:
            value = self._redis.get(self._prefix + (month or month_of(self._now())))
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc
        return int(value) if value is not None else 0
