"""The Dramatiq side: per-phone queues, the broker, and one thin actor per queue.

Each configured phone NN has two queues: ``phone_NN`` for first messages and
``phone_NN_followup`` for follow-ups (the set follows the config). Broker keys
carry the Redis namespace (``<namespace>:phone_NN``). An actor only loads its
process's runtime, calls :meth:`Sender.send` and acts on the outcome; policy
(retries, backoff, time limit) lives in the actor options.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import q_name
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from engine.settings import Settings
from engine.timelinesai import PermanentError

FIRST = "first"
FOLLOWUP = "followup"


def queue_name(phone_id: str, kind: str = FIRST) -> str:
    """``phone_NN`` for first messages, ``phone_NN_followup`` for follow-ups."""
    return f"phone_{phone_id}" if kind == FIRST else f"phone_{phone_id}_followup"


def actor_name(queue: str) -> str:
    return f"send_{queue}"


def all_queues(phone_ids: Iterable[str]) -> list[str]:
    """Both queues of every phone, in phone order."""
    return [queue_name(p, kind) for p in sorted(phone_ids) for kind in (FIRST, FOLLOWUP)]


class _SlotConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer, except that a full prefetch waits for a free slot.

    The stock consumer treats "prefetch full" like "queue empty": it counts a miss and
    sleeps an exponentially growing backoff (up to the worker timeout), so after each
    message a busy phone queue can sit idle for up to that timeout while its next
    message waits in Redis. Here a full consumer waits on an event that ``ack`` and
    ``nack`` (called by the worker thread that finished the message) set, and fetches
    at once; the worker timeout then only paces the polling of idle queues.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self._slot_freed = threading.Event()

    def ack(self, message: Any) -> None:
        try:
            super().ack(message)  # type: ignore[no-untyped-call]
        finally:
            self._slot_freed.set()

    def nack(self, message: Any) -> None:
        try:
            super().nack(message)  # type: ignore[no-untyped-call]
        finally:
            self._slot_freed.set()

    def __next__(self) -> Any:
        if not self.message_cache and self.outstanding_message_count >= self.prefetch:
            self._slot_freed.clear()
            if self.outstanding_message_count >= self.prefetch:  # not freed meanwhile
                # Bounded: the consumer thread must still move its due delayed messages.
                self._slot_freed.wait(self.timeout / 1000)
            self.misses = 0
            return None
        return super().__next__()  # type: ignore[no-untyped-call]


class PhoneBroker(RedisBroker):
    """The Redis broker whose consumers wait for a free prefetch slot (:class:`_SlotConsumer`)."""

    @property
    def consumer_class(self) -> type[_RedisConsumer]:
        return _SlotConsumer


def build_broker(settings: Settings) -> RedisBroker:
    """A Redis broker in the configured namespace with the engine's retry policy."""
    worker = settings.worker
    speed = settings.clock.speed
    middleware = [
        AgeLimit(),
        TimeLimit(time_limit=int(worker.send_time_limit_s * 1000)),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        CurrentMessage(),
        Retries(
            max_retries=worker.max_retries,
            min_backoff=max(1, int(worker.min_backoff_s / speed * 1000)),
            max_backoff=max(1, int(worker.max_backoff_s / speed * 1000)),
        ),
    ]
    return PhoneBroker(  # type: ignore[no-untyped-call]
        url=settings.redis.url,
        namespace=settings.redis.namespace,
        middleware=middleware,
        # Seconds of silence after which another worker requeues a dead worker's messages.
        heartbeat_timeout=int(max(15.0, worker.lease_ttl_s) * 1000),
    )


SendFunction = Callable[[str, str, int, int, int], None]


@dataclass
class PhoneActors:
    """The declared actors, by queue name."""

    broker: RedisBroker
    actors: dict[str, dramatiq.Actor]  # type: ignore[type-arg]

    def enqueue(
        self,
        queue: str,
        enrollment_id: int,
        step: int,
        dispatch_id: int,
        *,
        delay_ms: int | None = None,
    ) -> None:
        """Put one send on ``queue`` (after ``delay_ms`` real milliseconds)."""
        self.actors[queue].send_with_options(
            args=(enrollment_id, step, dispatch_id), delay=delay_ms
        )


def declare_actors(broker: RedisBroker, settings: Settings, handler: SendFunction) -> PhoneActors:
    """One actor per queue; ``handler(queue, phone_id, enrollment_id, step, dispatch_id)`` sends."""
    actors = {}
    for phone in settings.phones:
        for kind in (FIRST, FOLLOWUP):
            queue = queue_name(phone.id, kind)
            actors[queue] = dramatiq.Actor(
                _bind(handler, queue, phone.id),
                broker=broker,
                actor_name=actor_name(queue),
                queue_name=queue,
                priority=0,
                # Permanent API errors become states in the sender; never retry them.
                options={"throws": (PermanentError,), "max_retries": settings.worker.max_retries},
            )
    return PhoneActors(broker, actors)


def _bind(handler: SendFunction, queue: str, phone_id: str) -> Callable[[int, int, int], None]:
    def send_step(enrollment_id: int, step: int, dispatch_id: int = 0) -> None:
        handler(queue, phone_id, enrollment_id, step, dispatch_id)

    send_step.__name__ = actor_name(queue)
    return send_step


def current_retries() -> int:
    """How many times the message being processed has been retried already."""
    message = CurrentMessage.get_current_message()
    if message is None:
        return 0
    return int(message.options.get("retries", 0))


def base_queue(name: str) -> str:
    """The queue a (possibly delayed) message belongs to."""
    return str(q_name(name))
