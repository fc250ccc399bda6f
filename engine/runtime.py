"""Build the runtime's shared objects (clock, database) from settings, once, at the edge.

Each builder imports what it builds (Redis, the database layer, the HTTP client), so a
command that only reads the database (``outreach phones list``) loads no Redis or httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.clock import Clock, SystemClock
from engine.errors import ServiceUnavailableError

if TYPE_CHECKING:
    import redis

    from engine.db import Database
    from engine.settings import Settings
    from engine.timelinesai import CallBudget, RedisRateLimiter, TimelinesAIClient


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
    settings: Settings, client: redis.Redis, *, clock: Clock | None = None,
    max_wait_s: float = 30.0,
) -> TimelinesAIClient:  # fmt: skip
    """The TimelinesAI client with the workspace-wide rate limiter and the month's budget,
    both counted on the engine's clock (``clock``, else the configured one)."""
    from engine.settings import require_token
    from engine.timelinesai import TimelinesAIClient

    token = require_token(settings)
    clock = clock or build_clock(settings)
    tl = settings.timelinesai
    return TimelinesAIClient(
        tl.base_url,
        token,
        timeout_s=tl.timeout_s,
        retry_total_s=tl.retry_total_s,
        limiter=build_rate_limiter(settings, client, clock, max_wait_s=max_wait_s),
    )


def build_rate_limiter(
    settings: Settings, client: redis.Redis, clock: Clock, *, max_wait_s: float = 30.0
) -> RedisRateLimiter:
    """The workspace-wide limit of ``requests_per_minute`` per minute of the engine's clock.

    At ``[clock] speed = 200`` a minute lasts 0.3 real seconds, so a sped-up trial with the
    default limits paces its calls as production does, only faster; the hold of slots
    taken ahead shrinks with it, so the batching is the same. ``max_wait_s`` is real
    time (it bounds how long one send waits). The limiter charges the month's budget
    in the same Redis script: one round trip per call.
    """
    from engine.timelinesai import RedisRateLimiter
    from engine.timelinesai.ratelimit.redis import HOLD_S

    return RedisRateLimiter(
        client,
        namespace=settings.redis.namespace,
        requests_per_minute=settings.timelinesai.requests_per_minute,
        max_wait_s=max_wait_s,
        window_s=clock.real_seconds(60.0),
        hold_s=clock.real_seconds(HOLD_S),
        budget=build_call_budget(settings, client, clock),
    )


def build_call_budget(settings: Settings, client: redis.Redis, clock: Clock) -> CallBudget:
    """The month's call budget, counted per month of the engine's clock (a sped-up trial
    spends a month's budget in its own month, not in the calendar's)."""
    from engine.timelinesai import CallBudget

    return CallBudget(
        client,
        namespace=settings.redis.namespace,
        monthly_call_budget=settings.timelinesai.monthly_call_budget,
        now=clock.now,
    )
