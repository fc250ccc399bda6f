"""What the client needs from a rate limiter and a monthly call budget.

TimelinesAI limits the whole workspace (50 requests a minute and 200,000 calls a
month by its help centre), so both are shared by every worker process through
Redis in production; the in-memory versions serve one process and tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from engine.timelinesai.errors import CallBudgetExhausted, RateLimitWaitExceeded

BUDGET_SHARE = 0.8
"""The share of the month's API calls past which delivery polling stops (sends keep what
is left) and ``outreach status`` warns that the budget runs low."""


class RateLimiter(Protocol):
    """Admits at most a fixed number of calls in any window of real time."""

    def acquire(self) -> None:
        """Wait for a slot; raise ``RateLimitWaitExceeded`` rather than wait past the bound."""
        ...


class MonthlyBudget(Protocol):
    """Counts the calls of each UTC month against a monthly allowance."""

    @property
    def monthly_call_budget(self) -> int: ...

    def charge(self) -> None:
        """Count one call; raise ``CallBudgetExhausted`` (counting nothing) once used up."""
        ...

    def used(self, month: str | None = None) -> int:
        """Calls counted in ``month`` (``YYYY-MM``, UTC), the current month by default."""
        ...


def month_of(moment: datetime) -> str:
    """The UTC month of ``moment`` as ``YYYY-MM``, the unit of the call budget."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def wait_exceeded(
    limit: int, window_s: float, max_wait_s: float, waited_s: float
) -> RateLimitWaitExceeded:
    """The error for a call the rate limiter would hold longer than ``max_wait_s``."""
    return RateLimitWaitExceeded(
        f"the workspace rate limit ({limit} calls per {window_s:g} s) would hold this call "
        f"longer than {max_wait_s:g} s; it is retried later",
        waited_s=waited_s,
    )


def budget_exhausted(budget: int, used: int) -> CallBudgetExhausted:
    """The error for a call over this month's budget."""
    return CallBudgetExhausted(
        f"this month's {budget} TimelinesAI API calls are used up; "
        "raise monthly_call_budget if the plan allows more",
        used=used,
        budget=budget,
    )
