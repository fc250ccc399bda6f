"""The workspace-wide limiter and budget on real Redis, across real processes."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from engine.errors import ServiceUnavailableError
from engine.timelinesai import (
    CallBudget,
    CallBudgetExhausted,
    RateLimitWaitExceeded,
    RedisRateLimiter,
)
from engine.timelinesai.ratelimit.redis import batch_size
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.redis

# Each worker process waits for a common start, then takes slots as fast as it can,
# prints the wall time at which each was granted, and last how many slots it took ahead
# but dropped unused (a process descheduled past the hold drops them).
HAMMER = """
import sys, time
import redis
from engine.timelinesai import RedisRateLimiter

namespace, count, url, start = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
limit, window_s = int(sys.argv[5]), float(sys.argv[6])
client = redis.Redis.from_url(url)
limiter = RedisRateLimiter(
    client, namespace=namespace, requests_per_minute=limit, window_s=window_s, max_wait_s=30.0
)
while time.time() < start:
    time.sleep(0.001)
for _ in range(count):
    limiter.acquire()
    print(repr(time.time()), flush=True)
print(limiter.dropped)
client.close()
"""


@pytest.mark.parametrize(
    ("limit", "window_s", "processes", "each"),
    [(10, 2.0, 3, 9), (400, 2.0, 3, 300)],  # one slot per round trip; 16 (batch_size)
)
def test_processes_together_never_exceed_the_limit_in_any_window(
    redis_namespace: str, limit: int, window_s: float, processes: int, each: int
) -> None:
    start = time.time() + 1.5
    args = [redis_namespace, str(each), REDIS_URL, repr(start), str(limit), repr(window_s)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", HAMMER, *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    grants: list[float] = []
    dropped = 0
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        *times, dropped_here = out.split()
        grants.extend(float(line) for line in times)
        dropped += int(dropped_here)
    grants.sort()
    assert len(grants) == processes * each
    # Grant times are read a moment after Redis granted them: allow that much slack.
    slack_s = 0.2
    for index in range(len(grants) - limit):
        assert grants[index + limit] - grants[index] >= window_s - slack_s
    # Slots taken ahead and dropped unused (by a process descheduled past the hold) still
    # took their place in the window: a few, not most.
    assert dropped < limit // 2


# Each process takes slots until the limiter first asks it to wait, on a clock that stands
# still (so no slot taken ahead is ever dropped), and prints how many it took.
TAKE_UNTIL_TOLD_TO_WAIT = """
import sys
import redis
from engine.timelinesai import RedisRateLimiter

class Wait(Exception):
    pass

def sleep(seconds):
    raise Wait

namespace, url, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = redis.Redis.from_url(url)
limiter = RedisRateLimiter(
    client, namespace=namespace, requests_per_minute=limit, window_s=600.0, max_wait_s=600.0,
    monotonic=lambda: 0.0, sleep=sleep,
)
taken = 0
try:
    while True:
        limiter.acquire()
        taken += 1
except Wait:
    print(taken)
client.close()
"""


@pytest.mark.parametrize("limit", [10, 400])  # one slot per round trip; 16 at a time
def test_processes_together_take_the_whole_window_and_no_more(
    redis_namespace: str, limit: int
) -> None:
    # The limiter is not stricter than it must be, and counts nothing twice: however the
    # processes interleave, the window's slots are all used before anyone is told to wait.
    # A long window keeps the real clock out of it.
    args = [redis_namespace, REDIS_URL, str(limit)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", TAKE_UNTIL_TOLD_TO_WAIT, *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    taken = []
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        taken.append(int(out))
    assert sum(taken) == limit


def test_a_wait_past_the_bound_raises_quickly(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    slept: list[float] = []
    limiter = RedisRateLimiter(
        redis_client, namespace=redis_namespace, requests_per_minute=2, window_s=60,
        max_wait_s=0.5, sleep=slept.append,
    )  # fmt: skip
    limiter.acquire()
    limiter.acquire()
    with pytest.raises(RateLimitWaitExceeded):
        limiter.acquire()  # the wait would be ~60 s: it does not start it
    assert slept == []


def test_a_waiter_gets_the_slot_the_window_frees(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    limiter = RedisRateLimiter(
        redis_client, namespace=redis_namespace, requests_per_minute=1, window_s=0.3,
        max_wait_s=2, sleep=sleep,
    )  # fmt: skip
    started = time.monotonic()
    limiter.acquire()
    limiter.acquire()
    # Not before the window let it (Redis's clock and this one run at the same rate), and
    # it slept no longer than the window asked (a little jitter aside).
    assert time.monotonic() - started >= 0.3
    assert 0 < sum(slept) <= 0.3 + 0.011 * len(slept)


def test_keys_live_in_the_namespace_and_expire(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    RedisRateLimiter(redis_client, namespace=redis_namespace, max_wait_s=1).acquire()
    key = f"{redis_namespace}:timelinesai:ratelimit"
    assert redis_client.zcard(key) == 1
    assert 0 < redis_client.pttl(key) <= 61_000


def test_the_budget_counts_calls_per_month_across_clients(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    now = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)

    def budget() -> CallBudget:
        return CallBudget(
            redis_client, namespace=redis_namespace, monthly_call_budget=3, now=lambda: now
        )

    first, second = budget(), budget()
    first.charge()
    second.charge()
    first.charge()
    with pytest.raises(CallBudgetExhausted):
        second.charge()
    assert first.used() == 3
    key = f"{redis_namespace}:timelinesai:calls:2026-03"
    assert int(redis_client.get(key) or 0) == 3
    assert 39 * 86_400 < redis_client.ttl(key) <= 40 * 86_400
    now = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
    second.charge()
    assert (first.used(), first.used("2026-03")) == (1, 3)


def test_redis_down_is_a_service_error() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), retries=0))
    try:
        with pytest.raises(ServiceUnavailableError, match="Redis did not answer"):
            RedisRateLimiter(client, namespace="x", max_wait_s=1).acquire()
        with pytest.raises(ServiceUnavailableError):
            CallBudget(client, namespace="x").used()
    finally:
        client.close()


def test_a_limiter_with_the_budget_charges_it_in_the_same_call(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    now = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)
    budget = CallBudget(
        redis_client, namespace=redis_namespace, monthly_call_budget=3, now=lambda: now
    )
    limiter = RedisRateLimiter(
        redis_client, namespace=redis_namespace, requests_per_minute=2, window_s=0.3,
        max_wait_s=2, budget=budget,
    )  # fmt: skip
    window = f"{redis_namespace}:timelinesai:ratelimit"
    limiter.acquire()
    limiter.acquire()
    assert budget.used() == 2
    started = time.monotonic()
    limiter.acquire()  # waits for the window, and only then is counted
    assert time.monotonic() - started > 0.2
    assert budget.used() == 3
    with pytest.raises(CallBudgetExhausted):
        limiter.acquire()
    assert budget.used() == 3  # a refused call is not counted, and takes no slot
    assert redis_client.zcard(window) <= 2


@pytest.mark.parametrize(
    ("limit", "window_s", "batch"),
    [(50, 60.0, 1), (479, 60.0, 1), (480, 60.0, 2), (1800, 60.0, 7), (10**8, 60.0, 16)],
)
def test_slots_are_taken_ahead_only_when_the_limit_is_far_from_one_at_a_time(
    limit: int, window_s: float, batch: int
) -> None:
    assert batch_size(limit, window_s) == batch


def test_slots_taken_ahead_are_used_in_turn_then_dropped_and_given_back(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    budget = CallBudget(redis_client, namespace=redis_namespace, monthly_call_budget=1000)
    clock = [100.0]  # the hold runs on this, not on how fast the machine gets here
    limiter = RedisRateLimiter(
        redis_client, namespace=redis_namespace, requests_per_minute=6000, window_s=60,
        budget=budget, hold_s=0.3, monotonic=lambda: clock[0],
    )  # fmt: skip
    window = f"{redis_namespace}:timelinesai:ratelimit"
    limiter.acquire()  # takes batch_size(6000, 60, 0.3) = 16 slots, charges 16 calls
    assert (redis_client.zcard(window), budget.used()) == (16, 16)
    for _ in range(15):
        limiter.acquire()  # no round trip: the slots taken ahead
    assert (redis_client.zcard(window), budget.used()) == (16, 16)
    limiter.acquire()
    assert (redis_client.zcard(window), budget.used()) == (32, 32)
    clock[0] += 0.35  # the 15 left are past their hold
    limiter.acquire()
    # Dropped and uncounted; they keep their place in the window (it cannot know they
    # were never used elsewhere), which only makes the limit stricter.
    assert (redis_client.zcard(window), budget.used()) == (48, 32 - 15 + 16)
    assert limiter.dropped == 15


def test_slots_taken_ahead_never_pass_the_budget(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    budget = CallBudget(redis_client, namespace=redis_namespace, monthly_call_budget=5)
    limiter = RedisRateLimiter(
        redis_client, namespace=redis_namespace, requests_per_minute=6000, window_s=60,
        budget=budget,
    )  # fmt: skip
    for _ in range(5):
        limiter.acquire()
    assert budget.used() == 5
    with pytest.raises(CallBudgetExhausted):
        limiter.acquire()


def test_slots_taken_ahead_stay_in_the_window_for_their_hold_too(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    """A slot is logged when taken but may be used up to ``hold_s`` later, so it counts
    for ``window_s + hold_s``: then no ``window_s`` of actual calls holds more than the
    limit, however late each slot was used."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    # The hold's clock stands still: a slow machine drops no slot taken ahead.
    limiter = RedisRateLimiter(
        redis_client, namespace=redis_namespace, requests_per_minute=8, window_s=1.0,
        max_wait_s=5, hold_s=0.5, monotonic=lambda: 0.0, sleep=sleep,
    )  # fmt: skip
    started = time.monotonic()
    for _ in range(8):  # two round trips of batch_size(8, 1.0, 0.5) = 4 slots
        limiter.acquire()
    assert slept == [] and limiter.dropped == 0
    limiter.acquire()  # the window is full until the first slots are 1.5 s old, not 1 s
    assert time.monotonic() - started >= 1.5
