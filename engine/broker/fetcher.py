"""One fetch for all of a worker process's phone queues, each message with its phone's lease.

Dramatiq's Redis consumer fetches per queue: with two queues per phone, a process polls
forty queues (and as many delay queues), one round trip each, and a fetched message
still has to take its phone's lease (another round trip, and a wasted fetch when
another process holds the phone) and give it back after the send (a third), then be
acked (a fourth). Here one Lua script
(:data:`~engine.broker.internals.TAKE_SCRIPT`) acks a worked message, frees its lease,
and takes the next messages from the phones of the process that the ready index
(:mod:`engine.broker.index`) says are due, each only from a phone whose lease is free
and with the lease set in the same step: an idle poll costs a few commands whatever
the number of phones, and phones are served oldest-ready first. The worker thread
that finished a message runs it with the ack, so a send costs one Redis round trip for
the queue and the lease; a fetching thread covers the rest (start, idle queues: one
poll for all of them), and a busy phone's message is never fetched.

Messages go straight to the worker threads' queue, at most ``threads + 1`` held at a
time (the ``+ 1`` has the next message ready when a thread frees): with the lease taken
at fetch, a message held by a process holds its phone, so a process takes only what its
threads can start now, never the whole pool's phones.

A lease's time-to-live runs from the fetch. A message that waited long for a thread
may not have enough left for a whole send: :meth:`PhoneFetcher.held` hands the lease
over (:class:`~phones.lease.HeldLease`, with when it was taken), and the worker extends
it (or takes a new one) before sending. The lease's own rules come from
:data:`phones.lease.LEASE_LUA`; Dramatiq's internals from :mod:`engine.broker.internals`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import redis
from dramatiq import ActorNotFound, Consumer, Message, MessageProxy, Middleware
from dramatiq.broker import Broker
from dramatiq.common import current_millis
from dramatiq.errors import ConnectionClosed
from dramatiq.worker import Worker

from engine.broker import internals
from engine.broker.index import phone_set_key
from phones.lease import HeldLease, RedisLease, lease_key

if TYPE_CHECKING:
    from engine.broker.queues import PhoneBroker

log = logging.getLogger("outreach.fetcher")

IDLE_POLL_MIN_S = 0.005  # real seconds: the first wait after a fetch found nothing


class PhoneFetcher(Middleware):
    """Fetches the phone queues of a worker process; see the module doc.

    Added to every :class:`~engine.broker.queues.PhoneBroker`; it runs only in a process whose
    Dramatiq worker consumes phone queues, from the worker's boot to its shutdown.
    """

    def __init__(self, broker: PhoneBroker, *, lease_ttl_s: float) -> None:
        self.broker = broker
        self.lease_ttl_ms = max(1, int(lease_ttl_s * 1000))
        self._take = broker.client.register_script(internals.TAKE_SCRIPT)
        self._put_back = broker.client.register_script(internals.PUT_BACK_SCRIPT)
        self._lease = RedisLease(broker.client, namespace=broker.namespace, ttl_s=lease_ttl_s)
        self._cond = threading.Condition()
        self._held: dict[str, HeldLease] = {}  # by Dramatiq message id
        self._reserved = 0  # room claimed by fetches under way; see _reserve
        self._limit = 0
        self._turn = 0  # which of a phone's queues a fetch tries first; see TAKE_SCRIPT
        self._queues: list[str] = []
        self._members: list[str] = []  # the process's phones in the index
        self._phone_set = ""  # the Redis set of them; see engine.broker.index
        self._thread: threading.Thread | None = None
        self._running = False
        self._poked = False  # set by poke: the next idle wait is skipped, the backoff reset
        self._wake_at = float("inf")  # monotonic: a phone of ours comes due then
        self._worker: Worker | None = None

    # Dramatiq hooks -----------------------------------------------------------------

    def before_worker_boot(self, broker: Broker, worker: Worker) -> None:
        # The phone queues need no consumer thread each: see ThreadlessConsumer.
        for queue in self.broker.phone_queues:
            if internals.takes_queue(worker, queue):
                consumer = PhoneConsumer(self.broker, queue, worker.worker_timeout)
                worker.consumers[queue] = internals.ThreadlessConsumer(worker, queue, consumer)

    def after_worker_boot(self, broker: Broker, worker: Worker) -> None:
        phone_queues = self.broker.phone_queues
        self._queues = sorted(q for q in worker.consumers if q in phone_queues)
        if not self._queues:
            return
        phones = sorted({phone_queues[queue] for queue in self._queues})
        # A phone's member names all its queues, and a fetch may take from any of them:
        # a process fetches whole phones (``outreach worker --phones`` chooses so).
        partial = sorted(set(self.broker.queues_of(phones)) - set(self._queues))
        if partial:
            log.error("not fetching phones with queues not consumed here: %s", partial)
            phones = [p for p in phones if not set(self.broker.queues_of([p])) & set(partial)]
            if not phones:
                return
        self._worker = worker
        self._members = [self.broker.member(phone) for phone in phones]
        self._phone_set = phone_set_key(self.broker.namespace, self._members)
        self._limit = worker.worker_threads + 1
        self._turn = random.randrange(2)
        self._running = True
        self._thread = threading.Thread(target=self._run, name="phone-fetcher", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: Broker, worker: Worker) -> None:
        with self._cond:
            self._running = False
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    # What the worker and the consumers ask ---------------------------------------------

    def held(self, message_id: str) -> HeldLease | None:
        """The lease fetched with this message, while the message is being worked."""
        with self._cond:
            return self._held.get(message_id)

    def ack(self, queue: str, message: MessageProxy) -> None:
        """Ack ``message`` and free its phone's lease, and take the next messages into the
        room that leaves, all in one round trip (called by the worker thread that worked
        it, which then usually works the next one itself)."""
        with self._cond:
            held = self._held.pop(message.message_id, None)
            room = self._reserve()
        acked = (queue, internals.redis_message_id(message), held)
        try:
            freed, _, _ = self._take_some(room, acked)
        except redis.ConnectionError as error:
            if held is not None:  # Dramatiq retries the ack: keep what it needs
                with self._cond:
                    self._held[message.message_id] = held
            raise ConnectionClosed(error) from None  # type: ignore[no-untyped-call]
        except redis.RedisError:
            # Dramatiq gives the ack up, so the message is put back once this worker
            # stops (and then found done). Its phone and its room are free now: kept,
            # each such error would idle a phone for a lease TTL and leave this process
            # one message fewer for good.
            self._let_phone_go(queue, held)
            with self._cond:
                self._cond.notify_all()
            raise
        if held is not None and not freed:
            log.warning("lease of phone %s lapsed before its message was acked", held.phone_id)

    def _let_phone_go(self, queue: str, held: HeldLease | None) -> None:
        """Free the lease, if any, and let the phone come due again (not at its lease's
        expiry, where the fetch scored it)."""
        try:
            self._put_back(keys=[self.broker.namespace], args=self._put_back_args(queue, held))
        except redis.RedisError:
            who = held.phone_id if held else self.broker.phone_queues[queue]
            log.warning("phone %s left until its lease lapses: Redis refused to free it", who)

    def _put_back_args(self, queue: str, held: HeldLease | None) -> list[Any]:
        broker = self.broker
        return [
            current_millis(), internals.broker_id(broker), queue,
            broker.member(broker.phone_queues[queue]),
            lease_key(broker.namespace, held.phone_id) if held else "", held.token if held else "",
        ]  # fmt: skip

    def put_back(self, queue: str, messages: Iterable[MessageProxy], *, requeue: bool) -> None:
        """Messages of ``queue`` go back unworked: put them back on the queue (``requeue``;
        else they were nacked), free their leases and let their phone come due again."""
        for message in messages:
            args = self._put_back_args(queue, self.held(message.message_id))
            if requeue:
                args.append(internals.redis_message_id(message))
            try:
                self._put_back(keys=[self.broker.namespace], args=args)
            except redis.ConnectionError as error:
                raise ConnectionClosed(error) from None  # type: ignore[no-untyped-call]
            self._done(message.message_id)

    def poke(self, delay_ms: int | None = None) -> None:
        """A message was just put on a phone queue: poll now, not after the idle wait (or,
        for a delayed one, once it is due)."""
        with self._cond:
            if delay_ms is None or delay_ms <= 0:
                self._poked = True
            else:
                self._wake_at = min(self._wake_at, time.monotonic() + delay_ms / 1000)
            self._cond.notify_all()

    def _done(self, message_id: str) -> None:
        with self._cond:
            if self._held.pop(message_id, None) is not None:
                self._cond.notify_all()

    def _reserve(self) -> int:
        """Claim the room left for messages (under ``_cond``): held and reserved together
        never pass the limit, whichever threads fetch at once."""
        room = max(0, self._limit - len(self._held) - self._reserved) if self._running else 0
        self._reserved += room
        return room

    # The fetching thread --------------------------------------------------------------

    def _run(self) -> None:
        idle_s = self.broker.idle_poll_s
        wait_s = IDLE_POLL_MIN_S
        while True:
            with self._cond:
                while self._running and len(self._held) + self._reserved >= self._limit:
                    self._cond.wait()
                if not self._running:
                    return
                room = self._reserve()
            next_s = None
            try:
                _, taken, next_s = self._take_some(room)
            except Exception as error:  # never let the process stop fetching
                log.warning("fetching phone messages failed (%s); trying again", error)
                taken = 0
            if taken:
                wait_s = IDLE_POLL_MIN_S
            with self._cond:
                if taken == room:
                    continue  # full: wait for room above
                # Room left: poll again later, or as soon as one of ours frees a phone, a
                # message comes on a queue, or the index's next phone comes due.
                now = time.monotonic()
                if next_s is not None:
                    self._wake_at = min(self._wake_at, now + next_s)
                wait = min(wait_s, max(0.0, self._wake_at - now))
                if self._running and not self._poked and wait > 0:
                    self._cond.wait(wait)
                poked, self._poked = self._poked, False
                due = time.monotonic() >= self._wake_at
                if due:
                    self._wake_at = float("inf")
            wait_s = IDLE_POLL_MIN_S if poked or due else min(wait_s * 2, idle_s)

    def _take_some(
        self, room: int, acked: tuple[str, str, HeldLease | None] | None = None
    ) -> tuple[bool, int, float | None]:
        """Run the take script for ``room`` messages (reserved by the caller, given back
        here) after acking ``acked`` (queue, Redis message id, lease) and hand the messages
        over; returns whether the acked message's lease was freed, how many came, and in
        how many seconds the index's next phone comes due (``None``: none later)."""
        taken: list[tuple[str, MessageProxy, HeldLease]] = []
        try:
            prefix = uuid.uuid4().hex
            broker = self.broker
            maintenance = room > 0 and random.randint(1, 1_000_000) <= broker.maintenance_chance
            queue, redis_id, held = acked if acked is not None else ("", "", None)
            args: list[Any] = [
                current_millis(), internals.broker_id(broker), self.lease_ttl_ms, room, self._turn,
                prefix, int(maintenance), broker.heartbeat_timeout, self._phone_set, queue,
                redis_id, lease_key(broker.namespace, held.phone_id) if held else "",
                held.token if held else "",
                broker.member(broker.phone_queues[queue]) if queue else "",
            ]  # fmt: skip
            if room:
                self._turn += 1
            asked_at = time.monotonic()  # before Redis set the leases: never overestimates
            reply = self._take(keys=[broker.namespace], args=args)
            for index in range(3, len(reply), 3):
                name = reply[index].decode()
                try:
                    message = MessageProxy(Message.decode(reply[index + 2]))
                except Exception:  # unreadable: left unacked, its lease lapses by itself
                    log.exception("a message on %s could not be decoded", name)
                    continue
                held_now = self._lease.adopt(
                    broker.phone_queues[name], f"{prefix}:{name}", asked_at
                )
                taken.append((name, message, held_now))
        finally:
            with self._cond:
                for _, message, lease in taken:
                    self._held[message.message_id] = lease
                self._reserved -= room
                if len(taken) < room:
                    self._cond.notify_all()  # room left unfilled: the fetching thread polls
        for name, message, _ in taken:
            self._hand_over(name, message)
        if reply[2]:  # nothing was taken: the phone set is missing
            self._write_phone_set()
        next_ms = int(reply[1])
        return bool(reply[0]), len(taken), next_ms / 1000 if next_ms >= 0 else None

    def _write_phone_set(self) -> None:
        """Write the process's phone set (at the first fetch, and again after Redis lost
        it); the fetch takes only from phones in it."""
        pipe = self.broker.client.pipeline(transaction=False)
        for start in range(0, len(self._members), 500):
            pipe.sadd(self._phone_set, *self._members[start : start + 500])
        pipe.execute()
        with self._cond:
            self._poked = True  # fetch again now that it is there

    def _hand_over(self, queue: str, message: MessageProxy) -> None:
        """Put the message on the worker threads' queue, as Dramatiq's consumer thread does."""
        assert self._worker is not None
        try:
            actor = self.broker.get_actor(message.actor_name)
        except ActorNotFound as error:
            log.error("no actor %r for a message on %s: dead-lettered", message.actor_name, queue)
            message.fail()
            message.stuff_exception(error)
            self._worker.consumers[queue].post_process_message(message)
            return
        internals.hand_to_worker_threads(self._worker, actor.priority, message)


class PhoneConsumer(Consumer):
    """The consumer Dramatiq's worker keeps for a phone queue (in a
    :class:`~engine.broker.internals.ThreadlessConsumer`): the :class:`PhoneFetcher`
    fetches for it, so it only acks, nacks and requeues (each also freeing the lease)."""

    def __init__(self, broker: PhoneBroker, queue_name: str, timeout_ms: int) -> None:
        self.broker = broker
        self.queue_name = queue_name
        self.timeout_ms = timeout_ms
        self._closed = threading.Event()

    def ack(self, message: MessageProxy) -> None:
        self.broker.fetcher.ack(self.queue_name, message)

    def nack(self, message: MessageProxy) -> None:
        try:
            internals.nack(self.broker, self.queue_name, message)
        except redis.ConnectionError as error:
            raise ConnectionClosed(error) from None  # type: ignore[no-untyped-call]
        self.broker.fetcher.put_back(self.queue_name, [message], requeue=False)

    def requeue(self, messages: Iterable[MessageProxy]) -> None:
        self.broker.fetcher.put_back(self.queue_name, messages, requeue=True)

    def close(self) -> None:
        self._closed.set()

    def __next__(self) -> MessageProxy | None:
        # Nothing comes through here: the fetcher hands messages to the worker threads.
        # Wake now and then so the consumer thread can notice it is being stopped.
        self._closed.wait(self.timeout_ms / 1000)
        return None
