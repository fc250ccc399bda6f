"""Fixtures of the fault-injection suite: the scenario size and the one-line figures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import services  # noqa: F401  (the same real-process fixture)
from tests.reliability.faults import RedisServer, running_redis

FIGURES = (
    "leads",
    "sends",
    "duplicates",
    "lost",
    "quota_overruns",
    "overlaps",
    "followups_after_reply",
    "recovery_s",
)


@pytest.fixture
def scale(request: pytest.FixtureRequest) -> float:
    """``--scale``: 1 in CI (each scenario as small as still proves its point), more to soak."""
    value = float(request.config.getoption("--scale"))
    if value <= 0:
        raise pytest.UsageError("--scale must be positive")
    return value


def scaled(base: int, scale: float) -> int:
    return max(1, round(base * scale))


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of the test's own, so it can be flushed or restarted safely."""
    with running_redis(tmp_path) as server:
        yield server


def figures(scenario: str, **values: float | int | str) -> str:
    """Print (and return) a scenario's figures on one line, the common ones first, in order."""
    ordered = [f"{k}={_fmt(values.pop(k))}" for k in FIGURES if k in values]
    ordered += [f"{k}={_fmt(v)}" for k, v in values.items()]
    line = f"reliability {scenario}: " + " ".join(ordered)
    print("\n" + line)
    return line


def _fmt(value: float | int | str) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)
