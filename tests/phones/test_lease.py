"""The per-phone lease: exclusive, owned, and freed by its TTL when the holder dies.

Each rule runs against both leases: Redis's (the cluster's) and the in-process one
with a fake monotonic clock. A lapse is what the TTL does: on the fake clock, time
moves past it; in Redis, the key goes (its TTL is checked on its own, so no test
sleeps).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis

from phones.lease import HeldLease, Lease, MemoryLease, RedisLease, holding, wait_for

TTL_S = 5.0


@dataclass
class Leases:
    lease: Lease
    lapse: Callable[[str], None]
    """Make the phone's lease run out, as its TTL would."""


@pytest.fixture(params=["redis", "memory"])
def leases(request: pytest.FixtureRequest) -> Iterator[Leases]:
    if request.param == "memory":
        now = [1000.0]
        lease = MemoryLease(TTL_S, monotonic=lambda: now[0])

        def advance(_: str) -> None:
            now[0] += TTL_S + 0.001

        yield Leases(lease, advance)
        return
    client: redis.Redis = request.getfixturevalue("redis_client")
    namespace: str = request.getfixturevalue("redis_namespace")
    redis_lease = RedisLease(client, namespace=namespace, ttl_s=TTL_S)
    yield Leases(redis_lease, lambda phone_id: client.delete(redis_lease.key(phone_id)))


def test_only_one_holder_at_a_time(leases: Leases) -> None:
    lease = leases.lease
    held = lease.take("01")
    assert held is not None
    assert lease.take("01") is None
    assert lease.take("02") is not None  # phones are independent
    assert lease.holder("01") == held.token
    assert held.release()
    assert lease.holder("01") is None
    assert lease.take("01") is not None


def test_only_the_owner_can_release_or_extend(leases: Leases) -> None:
    lease = leases.lease
    held = lease.take("01")
    assert held is not None
    impostor = HeldLease(lease, "01", "somebody-else", 0.0)
    assert not impostor.release()
    assert not impostor.extend()
    assert lease.holder("01") == held.token
    assert lease.take("01") is None


def test_a_dead_holder_frees_the_phone_once_its_lease_lapses(leases: Leases) -> None:
    lease = leases.lease
    late = lease.take("01")  # this holder "dies": it never releases
    assert late is not None
    leases.lapse("01")
    current = lease.take("01")
    assert current is not None
    # The late holder waking up must neither free nor keep the new owner's lease.
    assert not late.release()
    assert not late.extend()
    assert lease.holder("01") == current.token
    assert current.extend()


def test_an_extended_lease_counts_down_from_the_extension() -> None:
    now = [1000.0]
    lease = MemoryLease(TTL_S, monotonic=lambda: now[0])
    held = lease.take("01")
    assert held is not None and held.left_s(now[0]) == TTL_S
    now[0] += 4.0
    assert held.left_s(now[0]) == pytest.approx(1.0)
    assert held.extend()
    assert held.left_s(now[0]) == TTL_S
    now[0] += 4.0  # past the first TTL, within the extended one
    assert lease.holder("01") == held.token
    now[0] += 1.5
    assert lease.holder("01") is None
    assert not held.extend()  # lapsed


def test_a_redis_lease_lives_its_ttl_and_its_key_carries_the_namespace(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    lease = RedisLease(redis_client, namespace=redis_namespace, ttl_s=TTL_S)
    held = lease.take("07")
    assert held is not None
    key = f"{redis_namespace}:lease:phone:07"
    assert 0 < int(redis_client.pttl(key)) <= TTL_S * 1000
    redis_client.pexpire(key, 100)
    assert held.extend()
    assert int(redis_client.pttl(key)) > 100  # renewed to the whole TTL


class FakeTime:
    """``time.monotonic`` and ``time.sleep`` for :func:`wait_for`; runs ``at`` callbacks."""

    def __init__(self) -> None:
        self.now = 0.0
        self.at: dict[int, Callable[[], None]] = {}
        self.sleeps = 0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1
        self.at.pop(self.sleeps, lambda: None)()


def test_waiting_takes_the_lease_once_its_holder_lets_go(leases: Leases) -> None:
    holder = leases.lease.take("01")
    assert holder is not None
    fake = FakeTime()
    fake.at[3] = holder.release
    held = wait_for(
        leases.lease, "01", 1.0, poll_s=0.01, monotonic=fake.monotonic, sleep=fake.sleep
    )
    assert held is not None and fake.sleeps == 3


@pytest.mark.parametrize(("timeout_s", "sleeps"), [(0.0, 0), (1.0, 4)])
def test_waiting_gives_up_after_its_timeout(leases: Leases, timeout_s: float, sleeps: int) -> None:
    assert leases.lease.take("01") is not None
    fake = FakeTime()
    held = wait_for(
        leases.lease, "01", timeout_s, poll_s=0.25, monotonic=fake.monotonic, sleep=fake.sleep
    )
    assert held is None
    assert fake.sleeps == sleeps


def test_holding_gives_the_lease_back_after_the_block(leases: Leases) -> None:
    with holding(leases.lease, "01") as held:
        assert held is not None
        assert leases.lease.holder("01") == held.token
        with holding(leases.lease, "01") as busy:
            assert busy is None
    assert leases.lease.holder("01") is None


def test_holding_a_lease_that_lapsed_says_so(
    leases: Leases, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="outreach.lease"):
        with holding(leases.lease, "01") as held:
            assert held is not None
            leases.lapse("01")
            other = leases.lease.take("01")
            assert other is not None
        assert leases.lease.holder("01") == other.token  # the new owner keeps it
    assert "lease of phone 01 expired" in caplog.text
