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
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.redis

# Each worker process waits for a common start, then takes slots as fast as it can
# and prints the wall time at which each was granted.
HAMMER = """
import sys, time
import redis
from engine.timelinesai import RedisRateLimiter

namespace, count, url, start = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
client = redis.Redis.from_url(url)
limiter = RedisRateLimiter(
    client, namespace=namespace, requests_per_minute=10, window_s=2.0, max_wait_s=30.0
)
while time.time() < start:
    time.sleep(0.001)
for _ in range(count):
    limiter.acquire()
    print(repr(time.time()), flush=True)
client.close()
"""


def test_processes_together_never_exceed_the_limit_in_any_window(redis_namespace: str) -> None:
    limit, window_s, processes, each = 10, 2.0, 3, 9
    start = time.time() + 1.5
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", HAMMER, redis_namespace, str(each), REDIS_URL, repr(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    grants: list[float] = []
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0
        grants.extend(float(line) for line in out.split())
    grants.sort()
    assert len(grants) == processes * each
    # Grant times are read a moment after Redis granted them: allow that much slack.
    slack_s = 0.2
    for index in range(len(grants) - limit):
        assert grants[index + limit] - grants[index] >= window_s - slack_s
    # The limiter is not stricter than it must be: the first window is used in full.
    assert grants[limit - 1] - grants[0] < window_s / 2


def test_a_wait_past_the_bound_raises_quickly(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    limiter = RedisRateLimiter(
        redis_client, namespace=redis_namespace, requests_per_minute=2, window_s=60, max_wait_s=0.5
    )
    limiter.acquire()
    limiter.acquire()
    started = time.monotonic()
    with pytest.raises(RateLimitWaitExceeded):
        limiter.acquire()
    assert time.monotonic() - started < 0.2


def test_a_waiter_gets_the_slot_the_window_frees(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    limiter = RedisRateLimiter(
        redis_client, namespace=redis_namespace, requests_per_minute=1, window_s=0.3, max_wait_s=2
    )
    limiter.acquire()
    started = time.monotonic()
    limiter.acquire()
    assert 0.2 < time.monotonic() - started < 1.0


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
