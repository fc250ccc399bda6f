"""The Dramatiq side: per-phone queues, the broker, and one thin actor per queue.

Each configured phone has two queues, named from its id as written: ``phone_<id>`` for
first messages and ``phone_<id>_followup`` for follow-ups (the set follows the config).
The id rule (:mod:`engine.settings.phone_ids`) keeps every such name one Dramatiq
accepts and unambiguous (no id ends in ``_followup``). Broker keys carry the Redis
namespace (``<namespace>:phone_<id>``). An actor only loads its
process's runtime, calls :meth:`Sender.send` and acts on the outcome; policy
(retries, backoff, time limit) lives in the actor options.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import dramatiq
import redis
from dramatiq import Consumer, Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis, q_name
from dramatiq.middleware import CurrentMessage, Retries, TimeLimit

from engine import tracing
from engine.broker.fetcher import PhoneConsumer, PhoneFetcher
from engine.broker.index import ENQUEUE_SCRIPT, phone_member
from engine.broker.retrying import retried_quietly
from engine.settings import Settings, sorted_phone_ids
from engine.timelinesai import PermanentError
from phones.lease import lease_key

FIRST = "first"
FOLLOWUP = "followup"


def queue_name(phone_id: str, kind: str = FIRST) -> str:
    """``phone_<id>`` for first messages, ``phone_<id>_followup`` for follow-ups."""
    return f"phone_{phone_id}" if kind == FIRST else f"phone_{phone_id}_followup"


def actor_name(queue: str) -> str:
    return f"send_{queue}"


def answer_actor_name(phone_id: str) -> str:
    """The actor that sends automatic answers on the phone's follow-up queue."""
    return f"answer_phone_{phone_id}"


def all_queues(phone_ids: Iterable[str]) -> list[str]:
    """Both queues of every phone, in phone order (natural: ``p2`` before ``p10``)."""
    ordered = sorted_phone_ids(phone_ids)
    return [queue_name(p, kind) for p in ordered for kind in (FIRST, FOLLOWUP)]


class PhoneBroker(RedisBroker):
    """The Redis broker, with the phone queues fetched by a :class:`PhoneFetcher`.

    :func:`declare_actors` registers each phone queue with its phone
    (:meth:`add_phone_queue`); any other queue (``replies``) keeps Dramatiq's consumer.
    A message for a phone queue is enqueued with its phone's place in the ready index
    (:mod:`engine.broker.index`), a delayed one on the queue's own delayed set instead
    of Dramatiq's delay queue (which a consumer thread per queue would poll).
    ``idle_poll_s`` is the longest the fetcher waits before polling empty phone queues
    again (real seconds; one round trip polls them all, so it can be short);
    ``lease_ttl_s`` the lease a fetched message takes.
    """

    def __init__(
        self, *args: Any, lease_ttl_s: float = 90.0, idle_poll_s: float = 0.25, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.phone_queues: dict[str, str] = {}  # queue name -> phone id
        self._members: dict[str, str] = {}  # phone id -> its member in the ready index
        self.idle_poll_s = idle_poll_s
        self.fetcher = PhoneFetcher(self, lease_ttl_s=lease_ttl_s)
        self.add_middleware(self.fetcher)
        self._enqueue = self.client.register_script(ENQUEUE_SCRIPT)

    def add_phone_queue(self, queue: str, phone_id: str) -> None:
        """Fetch ``queue`` with the lease of phone ``phone_id``."""
        self.phone_queues[queue] = phone_id
        self._members[phone_id] = phone_member(
            lease_key(self.namespace, phone_id), self.queues_of([phone_id])
        )

    def queues_of(self, phone_ids: Iterable[str]) -> list[str]:
        """The phone queues of these phones."""
        wanted = set(phone_ids)
        return sorted(queue for queue, phone in self.phone_queues.items() if phone in wanted)

    def member(self, phone_id: str) -> str:
        """The phone's member in the ready index."""
        return self._members[phone_id]

    def declare_queue(self, queue_name: str) -> None:
        """Declare a queue; a phone queue gets no Dramatiq delay queue (see the class)."""
        if queue_name not in self.phone_queues:
            super().declare_queue(queue_name)
        elif queue_name not in self.queues:
            self.emit_before("declare_queue", queue_name)
            self.queues.add(queue_name)
            self.emit_after("declare_queue", queue_name)

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        """Enqueue; a message for a phone queue goes there (or on its delayed set) with its
        phone's place in the ready index, in one step, and one put there by this process
        (a retry, a put-back) wakes the fetcher when it is due."""
        queue = message.queue_name
        if queue not in self.phone_queues:
            return super().enqueue(message, delay=delay)
        now = current_millis()
        options: dict[str, Any] = {"redis_message_id": str(uuid4())}
        if delay is not None:
            options["eta"] = now + delay
        message = message.copy(options=options)
        self.emit_before("enqueue", message, delay)
        stored = message.copy()  # fetched from the queue itself, as if it had never waited
        stored.options.pop("eta", None)
        self._enqueue(
            keys=[self.namespace],
            args=[
                now, queue, options["redis_message_id"], stored.encode(),
                "" if delay is None else options["eta"], self._members[self.phone_queues[queue]],
            ],
        )  # fmt: skip
        self.emit_after("enqueue", message, delay)
        self.fetcher.poke(delay)
        return message

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        if queue_name in self.phone_queues:
            return PhoneConsumer(self, queue_name, timeout)
        return super().consume(queue_name, prefetch, timeout)


def build_broker(settings: Settings, *, client: redis.Redis | None = None) -> RedisBroker:
    """A Redis broker in the configured namespace with the engine's retry policy.

    ``client`` replaces the broker's own Redis client: the webhook receiver passes one
    that fails within a second, so queueing work after a commit never holds an answer.
    """
    worker = settings.worker
    speed = settings.clock.speed
    # Only what the actors use: every middleware is called on each message's events,
    # so Dramatiq's defaults for options we never set (age limits, callbacks, pipelines,
    # shutdown notifications) would cost each send CPU for nothing.
    middleware = [
        TimeLimit(time_limit=int(worker.send_time_limit_s * 1000)),
        CurrentMessage(),
        Retries(
            max_retries=worker.max_retries,
            min_backoff=max(1, int(worker.min_backoff_s / speed * 1000)),
            max_backoff=max(1, int(worker.max_backoff_s / speed * 1000)),
        ),
    ]
    return PhoneBroker(
        url=None if client is not None else settings.redis.url,
        client=client,
        namespace=settings.redis.namespace,
        middleware=middleware,
        # Seconds of silence after which another worker requeues a dead worker's messages.
        heartbeat_timeout=int(max(15.0, worker.lease_ttl_s) * 1000),
        lease_ttl_s=worker.lease_ttl_s,
    )


SendFunction = Callable[[str, str, int, int, int], None]
AnswerFunction = Callable[[str, int], None]
"""``answer(phone_id, auto_reply_id)`` sends one automatic answer to a reply."""


@dataclass
class PhoneActors:
    """The declared actors: the step senders by queue name, the answer senders by phone."""

    broker: RedisBroker
    actors: dict[str, dramatiq.Actor]  # type: ignore[type-arg]
    answers: dict[str, dramatiq.Actor] = field(default_factory=dict)  # type: ignore[type-arg]

    def enqueue(
        self,
        queue: str,
        enrollment_id: int,
        step: int,
        dispatch_id: int,
        *,
        delay_ms: int | None = None,
    ) -> None:
        """Put one send on ``queue`` (after ``delay_ms`` real milliseconds), carrying the
        current trace (:func:`engine.tracing.message_options`)."""
        self.actors[queue].send_with_options(
            args=(enrollment_id, step, dispatch_id), delay=delay_ms, **tracing.message_options()
        )

    def enqueue_answer(
        self, phone_id: str, auto_reply_id: int, *, delay_ms: int | None = None
    ) -> None:
        """Put one automatic answer on the phone's follow-up queue."""
        self.answers[phone_id].send_with_options(
            args=(auto_reply_id,), delay=delay_ms, **tracing.message_options()
        )


def declare_actors(
    broker: RedisBroker,
    settings: Settings,
    handler: SendFunction,
    answer: AnswerFunction | None = None,
) -> PhoneActors:
    """One actor per queue; ``handler(queue, phone_id, enrollment_id, step, dispatch_id)`` sends.

    Each phone's follow-up queue also carries the automatic answers to replies:
    ``answer(phone_id, auto_reply_id)`` sends one (``None``: this process only enqueues).
    """
    actors = {}
    answers = {}
    for phone in settings.phones:
        for kind in (FIRST, FOLLOWUP):
            queue = queue_name(phone.id, kind)
            if isinstance(broker, PhoneBroker):
                broker.add_phone_queue(queue, phone.id)
            actors[queue] = dramatiq.Actor(
                _bind(handler, queue, phone.id, settings.worker.max_retries),
                broker=broker,
                actor_name=actor_name(queue),
                queue_name=queue,
                priority=0,
                # Permanent API errors become states in the sender; never retry them.
                options={"throws": (PermanentError,), "max_retries": settings.worker.max_retries},
            )
    for phone in settings.phones:
        answers[phone.id] = dramatiq.Actor(
            _bind_answer(answer or _enqueue_only, phone.id, settings.worker.max_retries),
            broker=broker,
            actor_name=answer_actor_name(phone.id),
            queue_name=queue_name(phone.id, FOLLOWUP),
            priority=0,
            options={"throws": (PermanentError,), "max_retries": settings.worker.max_retries},
        )
    return PhoneActors(broker, actors, answers)


def _enqueue_only(_phone_id: str, _auto_reply_id: int) -> None:
    raise RuntimeError("this process only enqueues; answers are sent by `outreach worker`")


def _bind_answer(answer: AnswerFunction, phone_id: str, max_retries: int) -> Callable[[int], None]:
    def send_answer(auto_reply_id: int) -> None:
        what = f"automatic answer {auto_reply_id} from phone {phone_id}"
        with retried_quietly(what, max_retries):
            answer(phone_id, auto_reply_id)

    send_answer.__name__ = answer_actor_name(phone_id)
    return send_answer


def _bind(
    handler: SendFunction, queue: str, phone_id: str, max_retries: int
) -> Callable[[int, int, int], None]:
    def send_step(enrollment_id: int, step: int, dispatch_id: int = 0) -> None:
        # Steps are numbered from 1 wherever a person reads them.
        what = f"step {step + 1} of enrollment {enrollment_id} from phone {phone_id}"
        with retried_quietly(what, max_retries):
            handler(queue, phone_id, enrollment_id, step, dispatch_id)

    send_step.__name__ = actor_name(queue)
    return send_step


def base_queue(name: str) -> str:
    """The queue a (possibly delayed) message belongs to."""
    return str(q_name(name))
