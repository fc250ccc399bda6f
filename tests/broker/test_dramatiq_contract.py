"""What the broker seam relies on inside Dramatiq, checked against the installed Dramatiq.

The phone fetcher replaces Dramatiq's Redis consumer: its Lua reads and writes the
Redis broker's keys, and it hands messages to the worker threads, nacks and requeues
them through names that are not Dramatiq's public API (all in
:mod:`engine.broker.internals`). An upgrade that moves any of them must fail here.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import dramatiq
import pytest
import redis
from dramatiq import MessageProxy
from dramatiq.brokers.redis import RedisBroker
from packaging.requirements import Requirement

from engine.broker import internals
from tests.conftest import REDIS_URL

QUEUE = "contract"
ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_dramatiq_is_within_the_pinned_versions() -> None:
    """The pin in pyproject.toml names the versions these tests were run on."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [pin] = [Requirement(d) for d in dependencies if Requirement(d).name == "dramatiq"]
    assert pin.specifier, "Dramatiq must be pinned: the broker seam uses its internals"
    assert version("dramatiq") in pin.specifier
    assert "<" in str(pin.specifier), "an upper bound keeps an untested Dramatiq out"


@pytest.fixture
def broker(redis_namespace: str) -> Iterator[RedisBroker]:
    broker = RedisBroker(url=REDIS_URL, namespace=redis_namespace)
    broker.declare_queue(QUEUE)
    yield broker
    broker.close()
    broker.client.connection_pool.disconnect()


def _actor(broker: RedisBroker) -> dramatiq.Actor[[int], None]:
    def noop(n: int) -> None:
        return None

    return dramatiq.Actor(
        noop, broker=broker, actor_name="noop", queue_name=QUEUE, priority=0, options={}
    )


def test_an_enqueued_message_is_its_id_on_the_queue_list_and_its_data_in_the_hash(
    broker: RedisBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    message = _actor(broker).send(1)
    redis_id = internals.redis_message_id(message)
    queue = internals.queue_key(redis_namespace, QUEUE)
    assert redis_client.type(queue) == b"list"
    assert redis_client.lrange(queue, 0, -1) == [redis_id.encode()]
    data = redis_client.hget(internals.messages_key(redis_namespace, QUEUE), redis_id)
    assert data is not None
    assert dramatiq.Message.decode(data).message_id == message.message_id


def test_a_fetched_message_is_unacked_under_its_worker_which_heartbeats(
    broker: RedisBroker, redis_client: redis.Redis, redis_namespace: str
) -> None:
    message = _actor(broker).send(1)
    consumer = broker.consume(QUEUE, prefetch=1, timeout=100)
    proxy = next(iter(consumer))
    assert proxy is not None and proxy.message_id == message.message_id
    worker = internals.broker_id(broker)
    acks = internals.acks_key(redis_namespace, worker, QUEUE)
    assert redis_client.smembers(acks) == {internals.redis_message_id(proxy).encode()}
    assert redis_client.zscore(internals.heartbeats_key(redis_namespace), worker) is not None
    assert redis_client.llen(internals.queue_key(redis_namespace, QUEUE)) == 0
    consumer.close()


@pytest.fixture
def fetched(broker: RedisBroker) -> Iterator[MessageProxy]:
    """A message as Dramatiq's own consumer fetches it: unacked, under this worker."""
    _actor(broker).send(1)
    consumer = broker.consume(QUEUE, prefetch=1, timeout=100)
    proxy = next(iter(consumer))
    assert proxy is not None
    yield proxy
    consumer.close()


def test_a_nack_moves_the_message_to_the_dead_letters(
    broker: RedisBroker, fetched: MessageProxy, redis_client: redis.Redis, redis_namespace: str
) -> None:
    proxy = fetched
    internals.nack(broker, QUEUE, proxy)
    redis_id = internals.redis_message_id(proxy).encode()
    acks = internals.acks_key(redis_namespace, internals.broker_id(broker), QUEUE)
    assert redis_client.smembers(acks) == set()
    assert redis_client.zscore(f"{redis_namespace}:{QUEUE}.XQ", redis_id) is not None


def test_a_message_handed_to_the_worker_threads_waits_on_their_priority_queue(
    broker: RedisBroker, fetched: MessageProxy
) -> None:
    proxy = fetched
    worker = dramatiq.Worker(broker, worker_threads=1)  # not started: nothing takes it
    internals.hand_to_worker_threads(worker, 5, proxy)
    item = worker.work_queue.get_nowait()
    assert (item.priority, item.message) == (5, proxy)


def test_a_queue_with_a_consumer_before_boot_gets_no_consumer_thread(
    broker: RedisBroker,
) -> None:
    """ThreadlessConsumer relies on the worker keeping a consumer registered for a queue
    before it boots, and on its whitelist of queues."""
    worker = dramatiq.Worker(broker, queues={QUEUE}, worker_threads=1, worker_timeout=100)
    assert internals.takes_queue(worker, QUEUE)
    assert not internals.takes_queue(worker, "other")
    consumer = broker.consume(QUEUE)
    ours = internals.ThreadlessConsumer(worker, QUEUE, consumer)
    worker.consumers[QUEUE] = ours
    worker.start()
    try:
        assert worker.consumers[QUEUE] is ours
        assert not ours.is_alive()
    finally:
        worker.stop(timeout=5000)
