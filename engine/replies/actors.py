"""The ``replies`` queue: thin Dramatiq actors over the classifier and the takeover check.

Declared the same way in every process: the webhook receiver and the scheduler only
enqueue (``jobs=None``), ``outreach replies worker`` consumes. Retries and backoff
come from the broker's middleware (:func:`engine.broker.build_broker`).
"""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from typing import Protocol

import dramatiq
from dramatiq.broker import Broker

from engine import tracing
from engine.broker.retrying import current_options, retried_quietly
from engine.replies.followups import (
    CHECK_SENT,
    CLASSIFY_REPLY,
    NOTIFY_ALERT,
    REPLIES_QUEUE,
    FollowUp,
)
from engine.settings import Settings

log = logging.getLogger("outreach.replies")

WORKER_TIMEOUT_MS = 200


class ReplyJobs(Protocol):
    """What the ``replies`` actors do, one method per actor."""

    def classify_reply(self, message_id: int) -> None: ...

    def check_sent_message(self, event_id: int) -> None: ...

    def notify_alert(
        self, kind: str, message: str, severity: str, phone_id: str | None
    ) -> None: ...


@dataclass
class ReplyActors:
    """The declared ``replies`` actors, by name."""

    broker: Broker
    actors: dict[str, dramatiq.Actor]  # type: ignore[type-arg]

    def enqueue(self, follow_up: FollowUp) -> None:
        """Put one follow-up on the ``replies`` queue (after its delay, real seconds)."""
        delay_ms = int(follow_up.delay_s * 1000) or None
        self.actors[follow_up.actor].send_with_options(
            args=follow_up.args, delay=delay_ms, **tracing.message_options()
        )


def declare_reply_actors(broker: Broker, settings: Settings, jobs: ReplyJobs | None) -> ReplyActors:
    """The three actors on ``broker``; ``jobs=None`` declares them for enqueueing only."""

    retries = settings.worker.max_retries

    # Each continues the trace of the webhook event (or job) that queued it.
    def classify_reply(message_id: int) -> None:
        with (
            tracing.continued(current_options(), "replies.classify_reply", message_id=message_id),
            retried_quietly(f"classifying reply {message_id}", retries),
        ):
            _require(jobs).classify_reply(message_id)

    def check_sent_message(event_id: int) -> None:
        with (
            tracing.continued(current_options(), "replies.check_sent_message", event_id=event_id),
            retried_quietly(f"checking sent message of event {event_id}", retries),
        ):
            _require(jobs).check_sent_message(event_id)

    def notify_alert(kind: str, message: str, severity: str, phone_id: str | None) -> None:
        with (
            tracing.continued(
                current_options(), "replies.notify_alert", kind=kind, phone_id=phone_id
            ),
            retried_quietly(f"notifying alert {kind}", retries),
        ):
            _require(jobs).notify_alert(kind, message, severity, phone_id)

    functions = {
        CLASSIFY_REPLY: classify_reply,
        CHECK_SENT: check_sent_message,
        NOTIFY_ALERT: notify_alert,
    }
    actors: dict[str, dramatiq.Actor] = {}  # type: ignore[type-arg]
    for name, function in functions.items():
        actors[name] = dramatiq.Actor(
            function,  # type: ignore[arg-type]
            broker=broker,
            actor_name=name,
            queue_name=REPLIES_QUEUE,
            priority=0,
            options={"max_retries": retries},
        )
    return ReplyActors(broker, actors)


def _require(jobs: ReplyJobs | None) -> ReplyJobs:
    if jobs is None:
        raise RuntimeError("this process only enqueues; run `outreach replies worker`")
    return jobs


def consume(actors: ReplyActors, threads: int, stop: threading.Event | None = None) -> None:
    """Work the ``replies`` queue with ``threads`` threads until SIGTERM/SIGINT (or ``stop``)."""
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    worker = dramatiq.Worker(
        actors.broker,
        queues={REPLIES_QUEUE},
        worker_threads=threads,
        worker_timeout=WORKER_TIMEOUT_MS,
    )
    worker.start()
    log.info("replies worker consuming with %d threads", threads)
    stop.wait()
    worker.stop(timeout=30_000)
