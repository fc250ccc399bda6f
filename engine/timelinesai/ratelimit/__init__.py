"""Workspace-wide rate limiting and the monthly call budget: Redis-backed and in-memory."""

from engine.timelinesai.ratelimit.base import BUDGET_SHARE, MonthlyBudget, RateLimiter
from engine.timelinesai.ratelimit.memory import MemoryCallBudget, MemoryRateLimiter, NoLimit
from engine.timelinesai.ratelimit.redis import CallBudget, RedisRateLimiter

__all__ = [
    "BUDGET_SHARE",
    "CallBudget",
    "MemoryCallBudget",
    "MemoryRateLimiter",
    "MonthlyBudget",
    "NoLimit",
    "RateLimiter",
    "RedisRateLimiter",
]
