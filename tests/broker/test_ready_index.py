"""The ready index: a fetch looks only at phones that may send, and no message waits on it.

Real Redis and real Dramatiq workers (the rules are about what several Lua steps leave
in Redis between them); see engine/broker/index.py for the rule these prove.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import dramatiq
import pytest
import redis

from engine.broker import PhoneBroker
from engine.broker.index import delayed_key, ready_key
from tests.broker.test_fetcher import QUEUES, Recorder, declare, leases, wait_for, working
from tests.conftest import REDIS_URL


@pytest.fixture
def phone_broker(redis_namespace: str) -> Iterator[PhoneBroker]:
    # A long lease: anything fetched "within its TTL" here came from the index, not a lapse.
    broker = PhoneBroker(url=REDIS_URL, namespace=redis_namespace, lease_ttl_s=60, idle_poll_s=0.05)
    yield broker
    broker.close()
    broker.client.connection_pool.disconnect()


def scores(client: redis.Redis, namespace: str) -> dict[str, float]:
    """The index by phone id (the lease key's last part)."""
    found = client.zrange(ready_key(namespace), 0, -1, withscores=True)
    return {member.decode().split()[0].rsplit(":", 1)[1]: score for member, score in found}


def test_an_idle_fetch_reads_no_phone_queue(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """With nothing ready, a poll costs the same for 3 phones or 3,000: it never touches a
    queue (each is made a key of the wrong type here, so touching one would fail)."""
    recorder = Recorder(redis_client, redis_namespace)
    declare(phone_broker, recorder)
    for queue in QUEUES:
        redis_client.set(f"{redis_namespace}:{queue}", "not a list")
        redis_client.set(delayed_key(redis_namespace, queue), "not a sorted set")
    with working(phone_broker, 2):
        time.sleep(0.5)  # polls at least every 50 ms
    assert recorder.calls == []
    assert "fetching phone messages failed" not in caplog.text  # each poll went through
    assert redis_client.zcard(f"{redis_namespace}:__heartbeats__") == 1


def test_enqueue_puts_the_phone_in_the_index_and_its_last_fetch_takes_it_out(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    recorder = Recorder(redis_client, redis_namespace)
    recorder.gate.set()
    actors = declare(phone_broker, recorder)
    before = int(time.time() * 1000)
    actors["phone_01"].send(1)
    actors["phone_02"].send_with_options(args=(2,), delay=60_000)
    index = scores(redis_client, redis_namespace)
    assert index["01"] <= time.time() * 1000  # ready now
    assert index["02"] >= before + 60_000  # at its eta, not before
    with working(phone_broker, 1):
        wait_for(lambda: len(recorder.calls) == 1)
        wait_for(lambda: leases(redis_client, redis_namespace) == {})
    assert set(scores(redis_client, redis_namespace)) == {"02"}  # 01 has nothing left


def test_the_ack_brings_the_phone_back_not_its_lease_expiry(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    """Phone 01's next messages, on either of its queues and one enqueued while it was busy,
    go out after each ack; the 60 s lease never has to lapse."""
    recorder = Recorder(redis_client, redis_namespace)
    actors = declare(phone_broker, recorder)
    actors["phone_01"].send(1)
    actors["phone_01_followup"].send(2)
    with working(phone_broker, 2):
        wait_for(lambda: len(recorder.calls) == 1)
        actors["phone_01"].send(3)  # while the phone is busy: a fetch scores it at expiry
        time.sleep(0.2)
        recorder.gate.set()
        wait_for(lambda: len(recorder.calls) == 3, timeout_s=20)
    assert sorted(n for _, n, _ in recorder.calls) == [1, 2, 3]
    assert recorder.overlaps == []


def test_a_delayed_message_enqueued_elsewhere_is_fetched_once_due(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    """Another process (the scheduler) puts a message off: no poke reaches this worker; its
    poll finds the phone due at the eta, not before."""
    recorder = Recorder(redis_client, redis_namespace)
    recorder.gate.set()
    declare(phone_broker, recorder)
    scheduler = PhoneBroker(url=REDIS_URL, namespace=redis_namespace)
    try:
        elsewhere = declare(scheduler, Recorder(redis_client, redis_namespace))
        with working(phone_broker, 1):
            sent_at = time.time()
            elsewhere["phone_02"].send_with_options(args=(4,), delay=400)
            wait_for(lambda: len(recorder.calls) == 1)
            assert time.time() - sent_at >= 0.4  # not before its eta
    finally:
        scheduler.close()
        scheduler.client.connection_pool.disconnect()
    assert redis_client.zcard(delayed_key(redis_namespace, "phone_02")) == 0


def test_phones_are_served_oldest_ready_first(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    recorder = Recorder(redis_client, redis_namespace)
    recorder.gate.set()
    actors = declare(phone_broker, recorder)
    for n, queue in enumerate(("phone_03", "phone_01", "phone_02")):
        actors[queue].send(n)
        time.sleep(0.005)  # ready a few ms apart
    worker = dramatiq.Worker(phone_broker, worker_threads=1, worker_timeout=100)
    phone_broker.fetcher._limit = 1  # one at a time, so the order is the fetch's
    worker.start()
    try:
        wait_for(lambda: len(recorder.calls) == 3)
    finally:
        worker.stop(timeout=5000)
    assert [queue for queue, _, _ in recorder.calls] == ["phone_03", "phone_01", "phone_02"]


def test_a_process_takes_only_its_own_phones_and_is_not_blocked_by_others(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    """A worker started with --phones 03: phone 01 and 02's messages, due first, stay for
    their own workers; 03's goes out."""
    recorder = Recorder(redis_client, redis_namespace)
    recorder.gate.set()
    actors = declare(phone_broker, recorder)
    actors["phone_01"].send(1)
    actors["phone_02"].send(2)
    actors["phone_03"].send(3)
    worker = dramatiq.Worker(phone_broker, queues={"phone_03"}, worker_threads=1)
    worker.start()
    try:
        wait_for(lambda: len(recorder.calls) == 1)
        time.sleep(0.3)
    finally:
        worker.stop(timeout=5000)
    assert [n for _, n, _ in recorder.calls] == [3]
    assert set(scores(redis_client, redis_namespace)) == {"01", "02"}


def test_a_phone_consumed_in_part_is_not_fetched(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """A fetch may take from any queue of a phone: a worker given one of phone 01's two
    queues says so and leaves the phone alone (it would have no consumer to ack with)."""
    recorder = Recorder(redis_client, redis_namespace)
    recorder.gate.set()
    actors = declare(phone_broker, recorder)
    actors["phone_01_followup"].send(1)
    actors["phone_02"].send(2)
    worker = dramatiq.Worker(phone_broker, queues={"phone_01", "phone_02"}, worker_threads=1)
    worker.start()
    try:
        wait_for(lambda: len(recorder.calls) == 1)
        time.sleep(0.3)
    finally:
        worker.stop(timeout=5000)
    assert [n for _, n, _ in recorder.calls] == [2]
    assert "phone_01_followup" in caplog.text


def test_fetching_resumes_after_redis_lost_everything(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    """The index and the process's phone set vanish with the queues; the next enqueue
    indexes its phone again and the fetch writes its phone set again."""
    recorder = Recorder(redis_client, redis_namespace)
    recorder.gate.set()
    actors = declare(phone_broker, recorder)
    with working(phone_broker, 1):
        actors["phone_01"].send(1)
        wait_for(lambda: len(recorder.calls) == 1)
        keys = list(redis_client.scan_iter(match=f"{redis_namespace}*"))
        redis_client.delete(*keys)
        actors["phone_02"].send(2)
        wait_for(lambda: len(recorder.calls) == 2)
    assert [n for _, n, _ in recorder.calls] == [1, 2]


def test_a_message_put_back_at_shutdown_is_due_again_at_once(
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
    assert len(recorder.calls) == 1
    waiting = "02" if recorder.calls[0][0] == "phone_01" else "01"
    assert scores(redis_client, redis_namespace)[waiting] <= time.time() * 1000


def test_a_worker_keeps_no_thread_per_phone_queue(redis_namespace: str) -> None:
    broker = PhoneBroker(url=REDIS_URL, namespace=redis_namespace)
    for n in range(100):
        queue = f"phone_{n:03d}"
        broker.add_phone_queue(queue, f"{n:03d}")
        dramatiq.Actor(
            lambda: None, broker=broker, actor_name=f"send_{queue}", queue_name=queue,
            priority=0, options={},
        )  # fmt: skip
    before = threading.active_count()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        started = threading.active_count() - before
    finally:
        worker.stop(timeout=5000)
        broker.close()
        broker.client.connection_pool.disconnect()
    assert started <= 5  # two worker threads, the fetcher, Dramatiq's own few


def test_a_fetch_records_the_phone_under_its_worker_for_maintenance(
    phone_broker: PhoneBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    """Were this worker to die now, maintenance finds its unacked message from the phones
    it took from (``__held__``), not by looking at every phone of the deployment."""
    recorder = Recorder(redis_client, redis_namespace)
    actors = declare(phone_broker, recorder)
    actors["phone_01"].send(1)
    try:
        with working(phone_broker, 1):
            wait_for(lambda: len(recorder.calls) == 1)
            held = redis_client.smembers(f"{redis_namespace}:__held__.{phone_broker.broker_id}")
            assert held == {phone_broker.member("01").encode()}
            recorder.gate.set()
    finally:
        recorder.gate.set()
