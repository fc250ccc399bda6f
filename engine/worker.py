"""``outreach worker``: processes of Dramatiq worker threads on the phones' queues.

Any number of these may run on any number of hosts against the same Redis and
database: the per-phone lease, not the process layout, keeps one send in flight
per phone. The command supervises its worker processes (:mod:`engine.supervisor`):
one that dies is restarted, SIGTERM or SIGINT stops them all after their in-flight
sends finish.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dramatiq
import redis
from dramatiq.broker import Broker
from dramatiq.middleware import CurrentMessage

from engine import tracing
from engine.alerts import NoAlerts, WebhookAlerts
from engine.broker import (
    PhoneActors,
    PhoneBroker,
    all_queues,
    base_queue,
    build_broker,
    current_options,
    current_retries,
    declare_actors,
)
from engine.clock import Clock
from engine.db import Database
from engine.errors import ConfigError
from engine.replies.actors import declare_reply_actors
from engine.runtime import build_client, build_clock, build_database, build_redis
from engine.sending.autoreply import AutoReplySender
from engine.sending.decision import busy_delay_s
from engine.sending.halt import RedisHalt
from engine.sending.outage_store import RedisOutage
from engine.sending.outage_watch import OutageWatch, log_alert, outage_policy
from engine.sending.outcome import Outcome, PutBack
from engine.sending.replycheck import ReplyCheck
from engine.sending.service import Sender, send_with_lease
from engine.settings import Settings
from engine.storage import replies as reply_rows
from engine.storage import send_store
from engine.supervisor import ChildSpec, cli_command
from engine.timelinesai import TimelinesAIClient
from engine.webhook.handlers import EventHandler
from engine.workspace_quota import messages_halt_key
from phones.lease import HeldLease, Lease, RedisLease, holding
from sequences import compiled_sequences

log = logging.getLogger("outreach.worker")

# How often Dramatiq's own consumers poll at most (its default), for a queue that is not
# a phone queue. The phone queues are not polled per queue, and have no Dramatiq
# delay queue: the broker's fetcher (engine.broker.fetcher) takes from the phones its
# ready index says are due, as many messages as the process has threads plus one, never
# two of one phone.
WORKER_TIMEOUT_MS = 1000
# Slack on a fetched message's lease: one with less than the send time limit plus this
# left (it waited long for a thread) is extended before its send.
LEASE_MARGIN_S = 5.0


@dataclass
class WorkerRuntime:
    """What one worker process holds: the senders and the actors it answers for."""

    settings: Settings
    sender: Sender
    actors: PhoneActors
    leases: Lease
    answers: AutoReplySender | None = None
    database: Database | None = None

    def handle(
        self, queue: str, phone_id: str, enrollment_id: int, step: int, dispatch_id: int
    ) -> None:
        """The body of every phone actor: send, and put the message back when told to.

        Its span continues the trace the dispatcher started for the message."""
        retries = current_retries()
        with tracing.continued(
            current_options(), "worker.handle", queue=queue, phone_id=phone_id,
            enrollment_id=enrollment_id, step=step + 1, retries=retries,
        ) as span:  # fmt: skip
            last_try = retries >= self.settings.worker.max_retries
            outcome = self._handle(
                queue, phone_id, enrollment_id, step, dispatch_id, last_try=last_try
            )
            span.set(outcome=_outcome(outcome))

    def _handle(
        self, queue: str, phone_id: str, enrollment_id: int, step: int, dispatch_id: int,
        *, last_try: bool,
    ) -> Outcome:  # fmt: skip
        held = self._fetched_lease()
        if held is not None:
            outcome = self.sender.send(
                held, enrollment_id, step, dispatch_id=dispatch_id, last_try=last_try
            )
        else:
            outcome = send_with_lease(
                self.sender, self.leases, enrollment_id, step, phone_id,
                dispatch_id=dispatch_id, last_try=last_try,
            )  # fmt: skip
        if isinstance(outcome, PutBack):
            delay_ms = max(1, int(self.sender.clock.real_seconds(outcome.delay_s) * 1000))
            self.actors.enqueue(
                base_queue(queue), enrollment_id, step, dispatch_id, delay_ms=delay_ms
            )
        return outcome

    def answer(self, phone_id: str, auto_reply_id: int) -> None:
        """The body of every answer actor: send one automatic answer, or put it back."""
        with tracing.continued(
            current_options(), "worker.answer", phone_id=phone_id, auto_reply_id=auto_reply_id
        ) as span:
            span.set(outcome=_outcome(self._answer(phone_id, auto_reply_id)))

    def _answer(self, phone_id: str, auto_reply_id: int) -> Outcome:
        assert self.answers is not None
        held = self._fetched_lease()
        if held is not None:
            outcome = self.answers.send(held, auto_reply_id)
        else:
            with holding(self.leases, phone_id) as taken:
                if taken is None:
                    outcome = PutBack(busy_delay_s(self.sender.policy), "phone busy")
                else:
                    outcome = self.answers.send(taken, auto_reply_id)
        if isinstance(outcome, PutBack):
            delay_ms = max(1, int(self.answers.clock.real_seconds(outcome.delay_s) * 1000))
            self.actors.enqueue_answer(phone_id, auto_reply_id, delay_ms=delay_ms)
        return outcome

    def _fetched_lease(self) -> HeldLease | None:
        """The lease the message being worked came with, with time enough left on it for a
        whole send (else extended now); ``None``: the caller takes the lease itself."""
        message = CurrentMessage.get_current_message()
        broker = self.actors.broker
        if message is None or not isinstance(broker, PhoneBroker):
            return None
        held = broker.fetcher.held(message.message_id)
        if held is None:
            return None
        if held.left_s(time.monotonic()) > self.settings.worker.send_time_limit_s + LEASE_MARGIN_S:
            return held
        return held if held.extend() else None


def _outcome(outcome: Outcome) -> str:
    """A span's ``outcome``: ``sent``, another end, or ``put back: <why>``."""
    return f"put back: {outcome.reason}" if isinstance(outcome, PutBack) else outcome.reason


def build_worker_runtime(
    settings: Settings, *, pool_size: int, count_round_trips: bool = False
) -> WorkerRuntime:
    """Wire one process: database, Redis, client, lease, halt, sender, broker and actors."""
    redis_client = build_redis(settings)
    clock = build_clock(settings)
    database = build_database(settings, pool_size=pool_size, count_round_trips=count_round_trips)
    client = build_client(settings, redis_client, clock=clock)
    broker = build_broker(settings)
    dramatiq.set_broker(broker)
    leases = RedisLease(
        redis_client, namespace=settings.redis.namespace, ttl_s=settings.worker.lease_ttl_s
    )
    sender = Sender(
        settings=settings,
        sequences=compiled_sequences(settings),
        store=send_store(database),
        client=client,
        clock=clock,
        halt=RedisHalt(
            redis_client,
            namespace=settings.redis.namespace,
            ttl_s=clock.real_seconds(300.0),
            also=(messages_halt_key(settings.redis.namespace),),
        ),
        rng=random.Random(),
        alerts=WebhookAlerts(settings.alerts.webhook_url)
        if settings.alerts.webhook_url
        else NoAlerts(),
        replies=_reply_check(settings, broker, database, client, clock),
        outage=_outage_watch(settings, redis_client, clock),
    )
    answers = AutoReplySender(
        settings=settings, sequences=sender.sequences, database=database, client=client,
        clock=clock, halt=sender.halt, rng=random.Random(), outage=sender.watch,
    )  # fmt: skip
    runtime: WorkerRuntime

    def handle(queue: str, phone_id: str, enrollment_id: int, step: int, dispatch_id: int) -> None:
        runtime.handle(queue, phone_id, enrollment_id, step, dispatch_id)

    def answer(phone_id: str, auto_reply_id: int) -> None:
        runtime.answer(phone_id, auto_reply_id)

    actors = declare_actors(broker, settings, handle, answer)
    runtime = WorkerRuntime(settings, sender, actors, leases, answers, database)
    return runtime


def _outage_watch(settings: Settings, redis_client: redis.Redis, clock: Clock) -> OutageWatch:
    """The workspace's API outage breaker, in Redis; its probe outlasts one send."""
    policy = outage_policy(settings)
    breaker = RedisOutage(
        redis_client, namespace=settings.redis.namespace, policy=policy,
        probe_ttl_s=settings.worker.lease_ttl_s, real_s=clock.real_seconds,
    )  # fmt: skip
    attempts = settings.worker.max_retries + 1
    return OutageWatch(breaker, policy, attempts=attempts, alert=log_alert)


def _reply_check(
    settings: Settings, broker: Broker, database: Database, client: TimelinesAIClient, clock: Clock
) -> ReplyCheck | None:
    """The read for a reply before each follow-up; what it finds goes through the
    receiver's own handler, whose classification work is queued on ``replies``."""
    if not settings.replies.check_before_followup:
        return None
    enqueue = declare_reply_actors(broker, settings, None).enqueue
    handler = EventHandler(database=database, settings=settings, clock=clock, enqueue=enqueue)
    jids = {phone.id: phone.jid for phone in settings.phones}

    def remember_chat(enrollment_id: int, chat_id: int) -> None:
        with database.engine.begin() as connection:
            reply_rows.remember_chat(connection, enrollment_id, chat_id)

    return ReplyCheck(client, handler.handle, jids, remember_chat)


def run_worker_process(
    settings: Settings, queues: Sequence[str], threads: int, *, round_trips_file: str | None = None
) -> None:
    """One worker process: consume ``queues`` with ``threads`` threads until SIGTERM/SIGINT.

    ``round_trips_file`` (for bench/send_pipeline.py): append "<pid> <database round
    trips>" there at exit.
    """
    runtime = build_worker_runtime(
        settings, pool_size=threads + 2, count_round_trips=bool(round_trips_file)
    )
    worker = dramatiq.Worker(
        runtime.actors.broker,
        queues=set(queues),
        worker_threads=threads,
        worker_timeout=WORKER_TIMEOUT_MS,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # What start-up built (modules, the CLI, the runtime) lives as long as the process: the
    # collector need not walk it again on every full collection while messages flow.
    gc.collect()
    gc.freeze()
    worker.start()
    log.info("worker %s consuming %d queues with %d threads", os.getpid(), len(queues), threads)
    stop.wait()
    # In-flight sends finish (bounded by the send time limit); queued messages stay in Redis.
    worker.stop(timeout=int(settings.worker.send_time_limit_s * 1000))
    runtime.actors.broker.close()
    runtime.sender.close()
    runtime.sender.client.close()
    database = runtime.database
    assert database is not None
    counter = database.round_trips
    if round_trips_file and counter is not None:
        with open(round_trips_file, "a", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {counter.take()}\n")
    database.dispose()


def select_queues(settings: Settings, phones: Sequence[str] | None) -> list[str]:
    """Both queues of the chosen phones (all configured phones by default)."""
    configured = {p.id for p in settings.phones}
    chosen = set(phones) if phones else configured
    unknown = chosen - configured
    if unknown:
        raise ConfigError(f"no such phone(s) in the config: {', '.join(sorted(unknown))}")
    return all_queues(chosen)


def worker_specs(
    config_path: Path, *, processes: int, threads: int, phones: Sequence[str] | None,
    options: Sequence[str] = (),
) -> list[ChildSpec]:  # fmt: skip
    """The worker processes, each an ``outreach worker --in-process`` command."""
    args = ["worker", "--in-process", "--threads", str(threads)]
    if phones:
        args += ["--phones", ",".join(phones)]
    command = cli_command(config_path, *args, options=options)
    return [ChildSpec(f"worker-{index + 1}", command) for index in range(processes)]
