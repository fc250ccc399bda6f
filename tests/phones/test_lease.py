"""The per-phone lease: exclusive, owned, and freed by its TTL when the holder dies."""

from __future__ import annotations

import time

import redis

from phones.lease import MemoryLease, RedisLease


def test_only_one_holder_at_a_time(redis_client: redis.Redis, redis_namespace: str) -> None:
    lease = RedisLease(redis_client, namespace=redis_namespace, ttl_s=5)
    token = lease.acquire("01")
    assert token is not None
    assert lease.acquire("01") is None
    assert lease.acquire("02") is not None  # phones are independent
    assert lease.holder("01") == token
    assert lease.release("01", token)
    assert lease.acquire("01") is not None


def test_only_the_owner_can_release(redis_client: redis.Redis, redis_namespace: str) -> None:
    lease = RedisLease(redis_client, namespace=redis_namespace, ttl_s=5)
    token = lease.acquire("01")
    assert token is not None
    assert not lease.release("01", "somebody-else")
    assert lease.acquire("01") is None


def test_a_dead_holder_frees_the_phone_after_the_ttl(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    lease = RedisLease(redis_client, namespace=redis_namespace, ttl_s=0.2)
    late = lease.acquire("01")  # this holder "dies": it never releases
    assert late is not None
    time.sleep(0.3)
    current = lease.acquire("01")
    assert current is not None
    # The late holder waking up must not free the new owner's lease.
    assert not lease.release("01", late)
    assert lease.holder("01") == current
    assert lease.extend("01", current)
    assert not lease.extend("01", late)


def test_keys_carry_the_namespace(redis_client: redis.Redis, redis_namespace: str) -> None:
    RedisLease(redis_client, namespace=redis_namespace, ttl_s=5).acquire("07")
    assert redis_client.exists(f"{redis_namespace}:lease:phone:07")


def test_memory_lease_has_the_same_rules() -> None:
    lease = MemoryLease(ttl_s=0.1)
    token = lease.acquire("01")
    assert token is not None
    assert lease.acquire("01") is None
    assert not lease.release("01", "other")
    time.sleep(0.15)
    assert lease.holder("01") is None
    assert lease.acquire("01") is not None


def test_memory_lease_extends_only_for_its_owner() -> None:
    clock = [100.0]
    lease = MemoryLease(ttl_s=0.2, monotonic=lambda: clock[0])
    token = lease.acquire("01")
    assert token is not None
    clock[0] += 0.15
    assert lease.extend("01", token)
    assert not lease.extend("01", "other")
    clock[0] += 0.1  # past the first TTL, within the extended one
    assert lease.holder("01") == token
    clock[0] += 0.15
    assert not lease.extend("01", token)  # lapsed
