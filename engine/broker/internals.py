"""What the broker seam relies on inside Dramatiq: private names and the Redis key layout.

The fetcher (:mod:`engine.broker.fetcher`) replaces the Redis broker's consumer, so it
depends on parts of Dramatiq that are not its public API. They are all named here,
once; ``pyproject.toml`` pins Dramatiq to the minor versions tested, and
``tests/broker/test_dramatiq_contract.py`` checks each of them against the installed
Dramatiq (the keys a real broker writes, the names and their signatures), so an
upgrade that moves any of them fails a test rather than production.

The keys of Dramatiq's Redis broker, for a namespace ``ns``:

- ``ns:<queue>``: the queue, a list of message ids;
- ``ns:<queue>.msgs``: the messages, a hash of id to encoded message;
- ``ns:<queue>.DQ``: the delay queue (its own list and hash, the same way);
- ``ns:__acks__.<broker id>.<queue>``: a worker's unacked messages, a set of ids;
- ``ns:__heartbeats__``: the workers' heartbeats, a sorted set of broker ids by time.
"""

from __future__ import annotations

from typing import Any

from dramatiq import Message, MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.worker import Worker, _WorkQueueItem

__all__ = [
    "acks_key",
    "broker_id",
    "hand_to_worker_threads",
    "heartbeats_key",
    "messages_key",
    "nack",
    "queue_key",
    "redis_message_id",
    "requeue",
]


def queue_key(namespace: str, queue: str) -> str:
    return f"{namespace}:{queue}"


def messages_key(namespace: str, queue: str) -> str:
    return f"{namespace}:{queue}.msgs"


def acks_key(namespace: str, broker: str, queue: str) -> str:
    return f"{namespace}:__acks__.{broker}.{queue}"


def heartbeats_key(namespace: str) -> str:
    return f"{namespace}:__heartbeats__"


def broker_id(broker: RedisBroker) -> str:
    """The id a broker's worker acks and heartbeats under."""
    return str(broker.broker_id)


def redis_message_id(message: Message[Any] | MessageProxy) -> str:
    """The id the Redis broker stores a message under (not Dramatiq's message id)."""
    return str(message.options["redis_message_id"])


def hand_to_worker_threads(worker: Worker, priority: int, message: MessageProxy) -> None:
    """Put a fetched message on the worker threads' queue, as Dramatiq's consumer does."""
    worker.work_queue.put(_WorkQueueItem(priority, message))


def nack(broker: RedisBroker, queue: str, message: MessageProxy) -> None:
    """Move an unacked message to the dead letters (Dramatiq's own nack)."""
    broker.do_nack(queue, redis_message_id(message))


def requeue(broker: RedisBroker, queue: str, messages: list[MessageProxy]) -> None:
    """Put unacked messages back at the head of their queue (Dramatiq's own requeue)."""
    broker.do_requeue(queue, *(redis_message_id(message) for message in messages))
