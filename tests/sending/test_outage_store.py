"""The API outage breaker in Redis: one count and one trip for every process, one probe."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import redis

from engine.sending.outage import Gate, OutagePolicy
from engine.sending.outage_store import RedisOutage, read_outage

NOW = datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
POLICY = OutagePolicy(after=5, backoff_s=60.0, backoff_max_s=900.0)


def breaker(client: redis.Redis, namespace: str) -> RedisOutage:
    return RedisOutage(client, namespace=namespace, policy=POLICY, probe_ttl_s=30.0, recheck_s=0.0)


def test_failures_of_all_processes_make_one_count_and_one_trip(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    workers = [breaker(redis_client, redis_namespace) for _ in range(4)]
    changes = []

    def fail_twice(worker: RedisOutage) -> None:
        for _ in range(2):
            changes.append(worker.failed(NOW))

    threads = [threading.Thread(target=fail_twice, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    state = read_outage(redis_client, redis_namespace)
    assert state.failures == 8  # no increment lost to a race
    assert state.tripped_at == NOW
    trips = [after for before, after in changes if not before.tripped and after.tripped]
    assert len(trips) == 1  # exactly one process sees the trip (and alerts)
    assert all(worker.admit(NOW).paused for worker in workers)


def test_a_send_going_through_anywhere_closes_it_for_everyone(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    here, there = breaker(redis_client, redis_namespace), breaker(redis_client, redis_namespace)
    for _ in range(5):
        here.failed(NOW)
    assert there.admit(NOW).paused
    assert there.answered().tripped
    assert not here.answered().tripped  # the recovery is reported once
    assert here.admit(NOW).gate == Gate.CLOSED
    assert read_outage(redis_client, redis_namespace).failures == 0


def test_only_one_of_many_threads_probes(redis_client: redis.Redis, redis_namespace: str) -> None:
    setup = breaker(redis_client, redis_namespace)
    for _ in range(5):
        setup.failed(NOW)
    probe_time = NOW + timedelta(seconds=60)
    workers = [breaker(redis_client, redis_namespace) for _ in range(8)]
    start = threading.Barrier(len(workers))
    gates: list[Gate] = []

    def ask(worker: RedisOutage) -> None:
        start.wait()
        for _ in range(5):
            gates.append(worker.admit(probe_time).gate)

    threads = [threading.Thread(target=ask, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert gates.count(Gate.HALF_OPEN) == 1
    assert gates.count(Gate.OPEN) == 39


def test_a_failed_probe_pauses_again_for_twice_as_long_and_frees_the_next_probe(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    worker = breaker(redis_client, redis_namespace)
    for _ in range(5):
        worker.failed(NOW)
    first_probe = NOW + timedelta(seconds=60)
    assert worker.admit(first_probe).gate == Gate.HALF_OPEN
    worker.failed(first_probe)
    state = read_outage(redis_client, redis_namespace)
    assert (state.backoff_s, state.probe_at) == (120.0, first_probe + timedelta(seconds=120))
    assert worker.admit(first_probe + timedelta(seconds=119)).paused
    # The failed probe's key is gone: the next probe is not blocked by its TTL.
    assert worker.admit(first_probe + timedelta(seconds=120)).gate == Gate.HALF_OPEN


def test_a_probe_that_sent_nothing_lets_another_probe(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    here, there = breaker(redis_client, redis_namespace), breaker(redis_client, redis_namespace)
    for _ in range(5):
        here.failed(NOW)
    probe_time = NOW + timedelta(seconds=60)
    probe = here.admit(probe_time)
    assert there.admit(probe_time).paused
    there.end_probe(there.admit(probe_time))  # no token: changes nothing
    assert there.admit(probe_time).paused
    here.end_probe(probe)
    assert there.admit(probe_time).gate == Gate.HALF_OPEN


def test_a_closed_breaker_is_asked_of_redis_at_most_once_per_recheck(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    clock = [10.0]
    cached = RedisOutage(
        redis_client, namespace=redis_namespace, policy=POLICY, probe_ttl_s=30.0,
        recheck_s=1.0, monotonic=lambda: clock[0],
    )  # fmt: skip
    other = breaker(redis_client, redis_namespace)
    assert cached.admit(NOW).gate == Gate.CLOSED
    for _ in range(5):
        other.failed(NOW)
    clock[0] = 10.5
    assert cached.admit(NOW).gate == Gate.CLOSED  # seen a moment late: cheap per send
    clock[0] = 11.0
    assert cached.admit(NOW).paused


def test_status_reads_the_trip_from_redis(redis_client: redis.Redis, redis_namespace: str) -> None:
    from engine.blocker_facts import read_workspace

    worker = breaker(redis_client, redis_namespace)
    clear = read_workspace(redis_client, namespace=redis_namespace, monthly_call_budget=100)
    assert clear.outage_since is None
    for _ in range(5):
        worker.failed(NOW)
    facts = read_workspace(redis_client, namespace=redis_namespace, monthly_call_budget=100)
    assert (facts.outage_since, facts.outage_failures) == (NOW, 5)
    assert facts.outage_probe_at == NOW + timedelta(seconds=60)
