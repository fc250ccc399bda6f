"""The workspace-wide halt: shared through Redis, expiring by itself, cheap to ask."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import redis

from engine.sending.halt import MemoryHalt, RedisHalt

NOW = datetime(2026, 1, 6, tzinfo=UTC)


def test_a_trip_is_seen_by_other_processes_and_expires(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    here = RedisHalt(redis_client, namespace=redis_namespace, ttl_s=0.3, recheck_s=0.0)
    there = RedisHalt(redis_client, namespace=redis_namespace, ttl_s=0.3, recheck_s=0.0)
    assert not there.active()
    here.trip(NOW)
    assert here.active()
    assert there.active()
    time.sleep(0.4)  # Redis expires the key on its own clock: no fake clock reaches it
    assert not there.active()  # the halt lifts by itself: the next send probes the token


def test_another_process_sees_a_trip_within_the_recheck_interval(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    now = [50.0]
    here = RedisHalt(redis_client, namespace=redis_namespace, ttl_s=5)
    there = RedisHalt(
        redis_client, namespace=redis_namespace, ttl_s=5, recheck_s=2.0, monotonic=lambda: now[0]
    )
    assert not there.active()
    here.trip(NOW)
    now[0] = 51.5
    assert not there.active()  # cached: no round trip on every send
    now[0] = 52.0
    assert there.active()


def test_memory_halt() -> None:
    now = [100.0]
    halt = MemoryHalt(ttl_s=300.0, monotonic=lambda: now[0])
    assert not halt.active()
    halt.trip(NOW)
    assert halt.active()
    now[0] = 399.5
    assert halt.active()
    now[0] = 400.0
    assert not halt.active()
