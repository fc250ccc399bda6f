"""The phone fetcher: a message comes with its phone's lease, the ack frees it, a process
holds no more than its threads can start (real Redis, a real Dramatiq worker)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import dramatiq
import pytest
import redis

from engine.broker import PhoneBroker
from phones.lease import HeldLease, MemoryLease, RedisLease, lease_key
from tests.conftest import REDIS_URL

QUEUES = {"phone_01": "01", "phone_01_followup": "01", "phone_02": "02", "phone_03": "03"}


@dataclass
class Recorder:
    """What the actors saw: each call's (queue, argument, lease holder), and phones busy."""

    redis_client: redis.Redis
    namespace: str
    gate: threading.Event = field(default_factory=threading.Event)
    calls: list[tuple[str, int, str | None]] = field(default_factory=list)
    running: dict[str, int] = field(default_factory=dict)
    overlaps: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def actor(self, queue: str, phone_id: str) -> Callable[[int], None]:
        def work(n: int) -> None:
            holder = self.redis_client.get(lease_key(self.namespace, phone_id))
            with self.lock:
                self.calls.append((queue, n, holder.decode() if holder else None))
                self.running[phone_id] = self.running.get(phone_id, 0) + 1
                if self.running[phone_id] > 1:
                    self.overlaps.append(phone_id)
            try:
                self.gate.wait(10)
            finally:
                with self.lock:
                    self.running[phone_id] -= 1

        return work


@pytest.fixture
def phone_broker(redis_namespace: str) -> Iterator[PhoneBroker]:
    broker = PhoneBroker(url=REDIS_URL, namespace=redis_namespace, lease_ttl_s=30, idle_poll_s=0.05)
    yield broker
    broker.close()
    broker.client.connection_pool.disconnect()


def declare(broker: PhoneBroker, recorder: Recorder) -> dict[str, dramatiq.Actor]:  # type: ignore[type-arg]
    actors = {}
    for queue, phone_id in QUEUES.items():
        broker.add_phone_queue(queue, phone_id)
        actors[queue] = dramatiq.Actor(
            recorder.actor(queue, phone_id),
            broker=broker,
            actor_name=f"send_{queue}",
            queue_name=queue,
            priority=0,
            options={"max_retries": 0},
        )
    return actors


@contextmanager
def working(broker: PhoneBroker, threads: int) -> Iterator[None]:
    """A Dramatiq worker on the broker's queues, stopped (in-flight work done) on exit."""
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    try:
        yield
    finally:
        worker.stop(timeout=5000)


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def leases(client: redis.Redis, namespace: str) -> dict[str, str]:
    found = {}
    for phone_id in sorted(set(QUEUES.values())):
        value = client.get(lease_key(namespace, phone_id))
        if value is not None:
            found[phone_id] = value.decode()
    return found


def test_a_message_comes_with_its_phone_lease_and_the_ack_frees_it(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    recorder = Recorder(redis_client, redis_namespace)
    actors = declare(phone_broker, recorder)
    for n in range(3):
        actors["phone_01"].send(n)
    actors["phone_01_followup"].send(10)
    actors["phone_02"].send(20)
    with working(phone_broker, 4):
        try:
            wait_for(lambda: len(recorder.calls) == 2)
            time.sleep(0.3)  # room for a wrong second message of phone 01 to start
            # One message of each phone at a time: phone 01's two queues share its lease.
            assert sorted(QUEUES[queue] for queue, _, _ in recorder.calls) == ["01", "02"]
            for queue, _, holder in recorder.calls:
                assert holder is not None and holder.endswith(f":{queue}")
            assert leases(redis_client, redis_namespace).keys() == {"01", "02"}
            recorder.gate.set()
            wait_for(lambda: len(recorder.calls) == 5)
            wait_for(lambda: not leases(redis_client, redis_namespace))
        finally:
            recorder.gate.set()
    assert recorder.overlaps == []
    assert sorted(n for _, n, _ in recorder.calls) == [0, 1, 2, 10, 20]
    # Acked: nothing left of the messages in Redis.
    for queue in QUEUES:
        assert redis_client.llen(f"{redis_namespace}:{queue}") == 0
        assert redis_client.hlen(f"{redis_namespace}:{queue}.msgs") == 0


def test_a_phone_leased_elsewhere_is_not_fetched_until_its_lease_lapses(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    """Another worker took phone 01 and died: the index scores the phone at its lease's
    expiry, and it is fetched then, not before."""
    recorder = Recorder(redis_client, redis_namespace)
    recorder.gate.set()
    actors = declare(phone_broker, recorder)
    other = RedisLease(redis_client, namespace=redis_namespace, ttl_s=1.5)
    held = other.take("01")
    assert held is not None
    actors["phone_01"].send(1)
    actors["phone_02"].send(2)
    with working(phone_broker, 2):
        wait_for(lambda: len(recorder.calls) == 1)
        time.sleep(0.3)
        assert [n for _, n, _ in recorder.calls] == [2]
        assert redis_client.llen(f"{redis_namespace}:phone_01") == 1  # still queued, untaken
        assert other.holder("01") == held.token
        wait_for(lambda: len(recorder.calls) == 2)  # once the lease lapsed
    assert [n for _, n, _ in recorder.calls] == [2, 1]
    assert recorder.calls[1][2] != held.token


def test_a_process_holds_no_more_messages_than_its_threads_plus_one(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    recorder = Recorder(redis_client, redis_namespace)
    actors = declare(phone_broker, recorder)
    for queue in ("phone_01", "phone_02", "phone_03"):
        actors[queue].send(1)
    with working(phone_broker, 1):
        try:
            wait_for(lambda: len(recorder.calls) == 1)
            time.sleep(0.3)
            # One running, one fetched and waiting for the thread; the third phone stays free.
            assert len(leases(redis_client, redis_namespace)) == 2
            queued = sum(
                redis_client.llen(f"{redis_namespace}:{queue}")
                for queue in ("phone_01", "phone_02", "phone_03")
            )
            assert queued == 1
            recorder.gate.set()
            wait_for(lambda: len(recorder.calls) == 3)
        finally:
            recorder.gate.set()


def test_messages_put_back_at_shutdown_free_their_phones(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    recorder = Recorder(redis_client, redis_namespace)
    actors = declare(phone_broker, recorder)
    actors["phone_01"].send(1)
    actors["phone_02"].send(2)
    worker = dramatiq.Worker(phone_broker, worker_threads=1, worker_timeout=100)
    worker.start()
    wait_for(lambda: len(recorder.calls) == 1)
    wait_for(lambda: len(leases(redis_client, redis_namespace)) == 2)  # the second is fetched
    threading.Timer(0.3, recorder.gate.set).start()
    worker.stop(timeout=5000)  # the running one finishes, the waiting one goes back
    waiting = "phone_02" if recorder.calls[0][0] == "phone_01" else "phone_01"
    assert redis_client.llen(f"{redis_namespace}:{waiting}") == 1
    assert leases(redis_client, redis_namespace) == {}


def test_an_ack_after_the_lease_lapsed_leaves_the_new_holder_alone(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    broker = PhoneBroker(url=REDIS_URL, namespace=redis_namespace, lease_ttl_s=0.2)
    recorder = Recorder(redis_client, redis_namespace)
    recorder.gate.set()
    other = RedisLease(redis_client, namespace=redis_namespace, ttl_s=30)
    taken: list[str | None] = []

    def slow(n: int) -> None:
        time.sleep(0.4)  # the fetched lease (0.2 s) lapses meanwhile; another takes it
        now_held = other.take("01")
        taken.append(None if now_held is None else now_held.token)

    broker.add_phone_queue("phone_01", "01")
    actor = dramatiq.Actor(
        slow, broker=broker, actor_name="slow", queue_name="phone_01", priority=0, options={}
    )
    actor.send(1)
    try:
        with working(broker, 1):
            wait_for(lambda: bool(taken))
            wait_for(lambda: redis_client.hlen(f"{redis_namespace}:phone_01.msgs") == 0)  # acked
    finally:
        broker.close()
        broker.client.connection_pool.disconnect()
    assert taken[0] is not None
    assert other.holder("01") == taken[0]


def test_a_dead_workers_unacked_message_is_put_back_and_sent(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    recorder = Recorder(redis_client, redis_namespace)
    recorder.gate.set()
    actors = declare(phone_broker, recorder)
    message = actors["phone_01"].send(7)
    # A worker fetched it and died: the id sits in its unacked set, its heartbeat is old.
    ns = redis_namespace
    redis_client.lrem(f"{ns}:phone_01", 0, message.options["redis_message_id"])
    redis_client.sadd(f"{ns}:__acks__.dead-worker.phone_01", message.options["redis_message_id"])
    redis_client.sadd(f"{ns}:__held__.dead-worker", phone_broker.member("01"))
    redis_client.zadd(f"{ns}:__heartbeats__", {"dead-worker": 1})
    phone_broker.maintenance_chance = 1_000_000  # every fetch does maintenance
    with working(phone_broker, 1):
        wait_for(lambda: [n for _, n, _ in recorder.calls] == [7])
    assert not redis_client.exists(f"{ns}:__acks__.dead-worker.phone_01")
    assert not redis_client.exists(f"{ns}:__held__.dead-worker")


@pytest.mark.parametrize(
    ("fetched_at", "now", "left"),
    [(100.0, 100.0, 90.0), (100.0, 130.0, 60.0), (100.0, 200.0, -10.0)],
)
def test_a_held_lease_counts_down_from_the_fetch(
    fetched_at: float, now: float, left: float
) -> None:
    assert HeldLease(MemoryLease(90.0), "01", "t", fetched_at).left_s(now) == left


def test_the_thread_that_acks_takes_the_next_message_in_the_same_round_trip(
    phone_broker: PhoneBroker,
    redis_client: redis.Redis,
    redis_namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder(redis_client, redis_namespace)
    recorder.gate.set()
    actors = declare(phone_broker, recorder)
    for queue in ("phone_01", "phone_02", "phone_03"):
        actors[queue].send(1)
    fetcher = phone_broker.fetcher
    handed: list[str] = []
    hand_over = fetcher._hand_over

    def recording(queue: str, message: dramatiq.MessageProxy) -> None:
        handed.append(threading.current_thread().name)
        hand_over(queue, message)

    monkeypatch.setattr(fetcher, "_hand_over", recording)
    with working(phone_broker, 1):  # room for two: the fetching thread takes two at once
        wait_for(lambda: len(recorder.calls) == 3)
    # The third came with the first one's ack, on the worker thread that had worked it.
    assert handed[:2] == ["phone-fetcher", "phone-fetcher"]
    assert handed[2] != "phone-fetcher"


def test_a_message_coming_due_in_the_process_is_fetched_without_waiting_for_a_poll(
    redis_client: redis.Redis, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("engine.broker.fetcher.IDLE_POLL_MIN_S", 30.0)  # idle polls: none in time
    broker = PhoneBroker(url=REDIS_URL, namespace=redis_namespace, idle_poll_s=30.0)
    recorder = Recorder(redis_client, redis_namespace)
    recorder.gate.set()
    actors = declare(broker, recorder)
    try:
        with working(broker, 1):
            time.sleep(0.2)  # the fetcher found nothing and waits out its (long) idle poll
            actors["phone_01"].send_with_options(args=(5,), delay=100)  # a put-back
            # Put on its delayed set by this process: the fetcher wakes when it is due.
            wait_for(lambda: len(recorder.calls) == 1, timeout_s=10)
    finally:
        broker.close()
        broker.client.connection_pool.disconnect()


def test_an_ack_that_fails_for_good_frees_its_room(
    phone_broker: PhoneBroker,
    redis_client: redis.Redis,
    redis_namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dramatiq retries an ack only after a connection error; after any other error the
    message's room must not stay taken, or two such errors stall a one-thread process."""
    recorder = Recorder(redis_client, redis_namespace)
    recorder.gate.set()
    actors = declare(phone_broker, recorder)
    for n in range(5):
        actors[("phone_01", "phone_02", "phone_03")[n % 3]].send(n)
    fetcher = phone_broker.fetcher
    take = fetcher._take
    failures = [redis.ResponseError("injected"), redis.ResponseError("injected")]

    def failing_acks(*, keys: list[str], args: list[object]) -> object:
        if args[10] and failures:  # a Redis message id: this round trip acks one
            raise failures.pop()
        return take(keys=keys, args=args)

    monkeypatch.setattr(fetcher, "_take", failing_acks)
    with working(phone_broker, 1):  # room for two
        wait_for(lambda: len(recorder.calls) == 5)
    assert not failures
    assert leases(redis_client, redis_namespace) == {}  # not left to lapse (30 s)
