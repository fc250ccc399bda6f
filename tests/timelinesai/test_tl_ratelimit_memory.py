"""The in-process limiter and budget, on a fake clock: no sleeping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.timelinesai import (
    CallBudgetExhausted,
    MemoryCallBudget,
    MemoryRateLimiter,
    NoLimit,
    RateLimitWaitExceeded,
)


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(fake: FakeTime, *, limit: int = 3, window_s: float = 10.0, max_wait_s: float = 60.0):
    return MemoryRateLimiter(
        limit, window_s=window_s, max_wait_s=max_wait_s, monotonic=fake.monotonic, sleep=fake.sleep
    )


def test_admits_the_limit_at_once_then_waits_for_the_oldest_to_leave() -> None:
    fake = FakeTime()
    limit = limiter(fake)
    for _ in range(3):
        limit.acquire()
    assert fake.sleeps == []
    fake.now += 4.0
    limit.acquire()
    assert fake.sleeps == [6.0]


def test_no_window_ever_holds_more_than_the_limit() -> None:
    fake = FakeTime()
    limit = limiter(fake, limit=3, window_s=10.0)
    admitted = []
    for step in range(40):
        fake.now += (step % 4) * 0.7
        limit.acquire()
        admitted.append(fake.now)
    for index in range(len(admitted) - 3):
        assert admitted[index + 3] - admitted[index] >= 10.0


def test_a_wait_past_the_bound_raises_without_waiting() -> None:
    fake = FakeTime()
    limit = limiter(fake, limit=1, window_s=10.0, max_wait_s=5.0)
    limit.acquire()
    with pytest.raises(RateLimitWaitExceeded) as raised:
        limit.acquire()
    assert fake.sleeps == []
    assert raised.value.waited_s == 0.0
    assert "1 calls per 10 s" in str(raised.value)


@pytest.mark.parametrize(
    "arguments", [{"requests_per_minute": 0}, {"window_s": 0}, {"max_wait_s": -1}]
)
def test_nonsense_settings_are_refused(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        MemoryRateLimiter(**arguments)  # type: ignore[arg-type]


def test_no_limit_admits_everything() -> None:
    limit = NoLimit()
    for _ in range(1000):
        limit.acquire()


def test_the_budget_counts_per_utc_month() -> None:
    now = datetime(2026, 1, 31, 23, 59, tzinfo=UTC)
    budget = MemoryCallBudget(2, now=lambda: now)
    budget.charge()
    budget.charge()
    with pytest.raises(CallBudgetExhausted) as raised:
        budget.charge()
    assert (raised.value.used, raised.value.budget) == (2, 2)
    assert budget.used() == 2
    now = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
    budget.charge()
    assert budget.used() == 1
    assert budget.used("2026-01") == 2
    assert budget.monthly_call_budget == 2
