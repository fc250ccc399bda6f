"""The workspace-wide rate limiter and monthly call budget, shared through Redis.

The limiter is a sliding window log in one Lua script: the sorted set holds the
moment of every admitted call, so no window of ``window_s`` real seconds ever holds
more than the limit, whichever process or host made the calls. Moments come from
Redis's own clock, so hosts with skewed clocks still agree.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime

import redis

from engine.errors import ServiceUnavailableError
from engine.timelinesai.ratelimit.base import budget_exhausted, month_of, wait_exceeded

# KEYS[1] the window's sorted set; ARGV: limit, window (µs), a unique member prefix, how
# many slots are wanted. Returns {n, 0} when n >= 1 slots were admitted (members
# "<prefix>:1".."<prefix>:n"), else {0, µs until the oldest call leaves the window}. With
# KEYS[2], the month's call counter (ARGV: ..., budget, ttl in s), the slots are also
# charged, in the same round trip: {-1, 0} when the budget is used up (nothing counted),
# and no more slots are admitted than the budget has left.
_ACQUIRE = """
local budget = KEYS[2]
local want = tonumber(ARGV[4])
if budget then
  local left = tonumber(ARGV[5]) - tonumber(redis.call('GET', budget) or '0')
  if left <= 0 then
    return {-1, 0}
  end
  want = math.min(want, left)
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local free = limit - redis.call('ZCARD', KEYS[1])
if free > 0 then
  local take = math.min(free, want)
  local members = {}
  for i = 1, take do
    members[#members + 1] = now
    members[#members + 1] = ARGV[3] .. ':' .. i
  end
  redis.call('ZADD', KEYS[1], unpack(members))
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  if budget and redis.call('INCRBY', budget, take) == take then
    redis.call('EXPIRE', budget, ARGV[6])
  end
  return {take, 0}
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
# Real seconds a slot taken ahead must be used within (else it is dropped, unused).
HOLD_S = 0.25
# The most slots one round trip takes ahead.
MAX_BATCH = 16


def batch_size(limit: int, window_s: float, hold_s: float = HOLD_S) -> int:
    """Slots one round trip takes: as many calls as the limit allows in ``hold_s`` (at
    most :data:`MAX_BATCH`): one at a time below 480 a minute."""
    return max(1, min(MAX_BATCH, int(limit * hold_s / window_s)))


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

    When the limit allows several calls within ``hold_s`` (:func:`batch_size`), one round
    trip takes that many slots, and the process's next calls use them, each within
    ``hold_s`` of being taken; one not used by then is dropped and given back to the
    budget. A slot is logged when taken, and used up to ``hold_s`` later, so the window
    the script counts is then ``window_s + hold_s`` long: any ``window_s`` of actual calls
    fits in such a window of their slots, so it never holds more than the limit either.

    ``monotonic`` and ``sleep`` are real time by default (the window itself is kept in
    Redis's time); tests pass a fake pair to move the waits and the hold.
    """

    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        namespace: str,
        requests_per_minute: int = 50,
        max_wait_s: float = 30.0,
        window_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        budget: CallBudget | None = None,
        hold_s: float = HOLD_S,
    ) -> None:
        if requests_per_minute < 1 or window_s <= 0 or max_wait_s < 0:
            raise ValueError("rate limit, window and wait bound must be positive")
        self._key = f"{namespace}:timelinesai:ratelimit"
        self._limit = requests_per_minute
        self._window_s = window_s
        self._batch = batch_size(requests_per_minute, window_s, hold_s)
        self._hold_s = hold_s if self._batch > 1 else 0.0
        self._lookback_us = round((window_s + self._hold_s) * 1_000_000)
        self._max_wait_s = max_wait_s
        self._monotonic = monotonic
        self._sleep = sleep
        self._budget = budget
        self._script = redis_client.register_script(_ACQUIRE)
        # (use-by, budget key) per slot taken ahead, oldest first.
        self._ahead: deque[tuple[float, str]] = deque()
        self._ahead_lock = threading.Lock()
        self._dropped = 0

    @property
    def dropped(self) -> int:
        """Slots taken ahead and dropped unused so far (each still took its place in the
        window, so the limit was that much stricter)."""
        return self._dropped

    def acquire(self) -> None:
        """Wait for a slot; raise ``RateLimitWaitExceeded`` rather than wait past the bound
        (and ``CallBudgetExhausted``, counting nothing, when the budget is used up)."""
        if self._batch > 1 and self._use_ahead():
            return
        started = self._monotonic()
        while True:
            keys = [self._key]
            args: list[int | str] = [self._limit, self._lookback_us, uuid.uuid4().hex, self._batch]
            budget_key = ""
            if self._budget is not None:
                budget_key = self._budget.key()
                keys.append(budget_key)
                args += [self._budget.monthly_call_budget, _BUDGET_TTL_S]
            taken_at = self._monotonic()  # before Redis logged them: use-by never late
            try:
                admitted, wait_us = self._script(keys=keys, args=args)
            except redis.RedisError as exc:
                raise _unavailable(exc) from exc
            if admitted >= 1:
                if admitted > 1:
                    use_by = taken_at + self._hold_s
                    with self._ahead_lock:
                        self._ahead.extend([(use_by, budget_key)] * (admitted - 1))
                return
            if admitted == -1 and self._budget is not None:
                budget = self._budget.monthly_call_budget
                raise budget_exhausted(budget, budget)
            waited_s = self._monotonic() - started
            wait_s = max(int(wait_us), 1000) / 1_000_000
            if waited_s + wait_s > self._max_wait_s:
                raise wait_exceeded(self._limit, self._window_s, self._max_wait_s, waited_s)
            self._sleep(wait_s + random.uniform(0, _WAKE_JITTER_S))

    def _use_ahead(self) -> bool:
        """Use a slot taken ahead, if one is still within its hold; drop stale ones."""
        now = self._monotonic()
        stale = []
        with self._ahead_lock:
            while self._ahead and self._ahead[0][0] <= now:
                stale.append(self._ahead.popleft()[1])
            self._dropped += len(stale)
            found = bool(self._ahead)
            if found:
                self._ahead.popleft()
        if stale and self._budget is not None:
            self._budget.give_back(stale)
        return found


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
        # The calendar month by default; the runtime passes the engine's clock
        # (engine.runtime.build_call_budget), the same at speed 1.
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

    def give_back(self, keys: list[str]) -> None:
        """Uncount calls charged but never made, one per entry (the month's key each was
        charged to); a failure only leaves them counted."""
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for key, count in Counter(keys).items():
                    pipe.decrby(key, count)
                pipe.execute()
        except redis.RedisError:
            pass

    def used(self, month: str | None = None) -> int:
        """Calls counted in ``month`` (``YYYY-MM``, UTC), the current month by default."""
        try:
            value = self._redis.get(self._prefix + (month or month_of(self._now())))
        except redis.RedisError as exc:
            raise _unavailable(exc) from exc
        return int(value) if value is not None else 0
