"""The runtime's builders: the TimelinesAI rate limit and call budget on the engine's clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
import redis

from engine.clock import FakeClock, SystemClock
from engine.runtime import build_call_budget, build_rate_limiter
from engine.settings import ClockSettings, RedisSettings, Settings, TimelinesAISettings
from engine.timelinesai import RateLimitWaitExceeded

pytestmark = pytest.mark.redis

EPOCH = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _settings(namespace: str, *, speed: float, requests_per_minute: int = 5) -> Settings:
    return replace(
        Settings(),
        redis=RedisSettings(namespace=namespace),
        timelinesai=TimelinesAISettings(requests_per_minute=requests_per_minute),
        clock=ClockSettings(speed=speed, epoch=EPOCH),
    )


def test_a_sped_up_clock_has_sped_up_minutes_for_the_rate_limit(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    """At speed 200 a minute lasts 0.3 s: three minutes' calls pass within a short wait
    (real minutes would hold the sixth call for a minute)."""
    settings = _settings(redis_namespace, speed=200.0)
    clock = SystemClock(speed=200.0, epoch=EPOCH)
    limiter = build_rate_limiter(settings, redis_client, clock, max_wait_s=10.0)
    for _ in range(15):
        limiter.acquire()


def test_at_real_speed_the_limit_holds_for_a_real_minute(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    settings = _settings(redis_namespace, speed=1.0)
    limiter = build_rate_limiter(settings, redis_client, SystemClock(), max_wait_s=1.0)
    for _ in range(5):
        limiter.acquire()
    with pytest.raises(RateLimitWaitExceeded):
        limiter.acquire()


def test_the_call_budget_counts_the_month_of_the_engines_clock(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    clock = FakeClock(datetime(2031, 5, 2, tzinfo=UTC))
    budget = build_call_budget(_settings(redis_namespace, speed=200.0), redis_client, clock)
    budget.charge()
    assert budget.used() == 1
    assert redis_client.get(f"{redis_namespace}:timelinesai:calls:2031-05") == b"1"
