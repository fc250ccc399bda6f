"""Build the runtime's shared objects (clock, database) from settings, once, at the edge.

Each builder imports what it builds (Redis, the database layer, the HTTP client), so a
command that only reads the database (``outreach status``) loads no Redis or httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.clock import SystemClock
from engine.errors import ConfigError, ServiceUnavailableError

if TYPE_CHECKING:
    import redis

    from engine.db import Database
    from engine.settings import Settings
    from engine.timelinesai import TimelinesAIClient


def build_clock(settings: Settings) -> SystemClock:
    """The runtime clock: real time, or sped up around the configured shared epoch."""
    return SystemClock(speed=settings.clock.speed, epoch=settings.clock.epoch)


def build_database(
    settings: Settings, *, pool_size: int = 5, count_round_trips: bool = False
) -> Database:
    """The database of ``settings`` (not migrated: see :meth:`Database.upgrade`)."""
    from engine.db import Database

    return Database(settings.database.url, pool_size=pool_size, count_round_trips=count_round_trips)


def build_redis(settings: Settings) -> redis.Redis:
    """A Redis client for the configured URL; fails with one line when Redis is down."""
    import redis

    client = redis.Redis.from_url(
        settings.redis.url, socket_connect_timeout=5, health_check_interval=30
    )
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        raise ServiceUnavailableError(
            f"Redis at {settings.redis.url} is not reachable ({error}); start it, e.g. "
            "`redis-server --daemonize yes --bind 127.0.0.1 --port 6379`"
        ) from None
    return client


def build_client(
    settings: Settings, client: redis.Redis, *, max_wait_s: float = 30.0
) -> TimelinesAIClient:
    """The TimelinesAI client with the workspace-wide rate limiter and the month's budget."""
    from engine.timelinesai import CallBudget, RedisRateLimiter, TimelinesAIClient

    token = settings.timelinesai.token
    if not token:
        raise ConfigError("TIMELINESAI_TOKEN is not set; export your workspace token")
    tl = settings.timelinesai
    budget = CallBudget(
        client, namespace=settings.redis.namespace, monthly_call_budget=tl.monthly_call_budget
    )
    # The limiter charges the budget in the same Redis script: one round trip per call.
    return TimelinesAIClient(
        tl.base_url,
        token,
        timeout_s=tl.timeout_s,
        retry_total_s=tl.retry_total_s,
        limiter=RedisRateLimiter(
            client,
            namespace=settings.redis.namespace,
            requests_per_minute=tl.requests_per_minute,
            max_wait_s=max_wait_s,
            budget=budget,
        ),
    )
