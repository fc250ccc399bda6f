"""The phone queues' broker: a consumer with a full prefetch fetches again as soon as a
slot frees, instead of sleeping out Dramatiq's backoff (real Redis)."""

from __future__ import annotations

import threading
import time

import dramatiq
import redis

from engine.queues import PhoneBroker
from tests.conftest import REDIS_URL


def test_a_full_consumer_fetches_the_next_message_as_soon_as_one_is_acked(
    redis_client: redis.Redis, redis_namespace: str
) -> None:
    broker = PhoneBroker(url=REDIS_URL, namespace=redis_namespace)  # type: ignore[no-untyped-call]
    actor = dramatiq.actor(lambda n: None, actor_name="noop", queue_name="phone_01", broker=broker)
    actor.send(1)
    actor.send(2)
    consumer = broker.consume("phone_01", prefetch=1, timeout=5000)
    try:
        first = next(consumer)
        assert first is not None and first.args == (1,)
        acked_at: list[float] = []

        def finish() -> None:  # a worker thread finishing the message
            time.sleep(0.3)
            acked_at.append(time.monotonic())
            consumer.ack(first)

        worker = threading.Thread(target=finish)
        worker.start()
        # Full: the consumer waits for the slot (the stock one sleeps a short backoff
        # and comes back before the ack, then backs off longer and longer).
        assert next(consumer) is None
        returned_at = time.monotonic()
        worker.join()
        # After the ack, and woken by it: far sooner than the wait's own 5 s bound (the
        # margin is wide so a loaded machine cannot fail it).
        assert acked_at and 0 <= returned_at - acked_at[0] < 2.5
        second = next(consumer)  # and fetches at once
        assert second is not None and second.args == (2,)
        consumer.ack(second)
    finally:
        consumer.close()
        broker.close()
        broker.client.connection_pool.disconnect()
