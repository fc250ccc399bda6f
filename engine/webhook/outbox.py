"""Work queued after a webhook's commit is handed to Redis by a thread of its own.

The receiver answers TimelinesAI as soon as an event is committed; queueing its
follow-up work (a classification, a takeover check, an alert) must never hold that
answer, not even while Redis is unreachable and every attempt waits out a timeout.
The request thread puts the follow-up here and returns; this thread enqueues it. A
follow-up that cannot be queued (Redis down, the process stopping) is not lost: its
row is committed, and the scheduler's sweep queues it again. The event's trace goes
with each follow-up across the thread (:mod:`engine.tracing`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from typing import Any

from engine import tracing
from engine.replies.followups import Enqueue, FollowUp

log = logging.getLogger("outreach.webhook")

CAPACITY = 10_000  # follow-ups waiting for Redis at most; past it the sweep takes over


class Outbox:
    """Hands follow-ups to ``enqueue`` in the background; :meth:`put` never blocks."""

    def __init__(self, enqueue: Enqueue, *, capacity: int = CAPACITY) -> None:
        self._enqueue = enqueue
        self._queue: queue.Queue[tuple[FollowUp, Mapping[str, Any]] | None] = queue.Queue(
            maxsize=capacity
        )
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)
        self._thread.start()

    def put(self, follow_up: FollowUp) -> None:
        """Queue ``follow_up`` for the background thread (dropped when full: swept later)."""
        try:
            self._queue.put_nowait((follow_up, tracing.message_options()))
        except queue.Full:
            log.warning("could not queue %s now; the scheduler's sweep will", follow_up.actor)

    def close(self, timeout_s: float = 5.0) -> None:
        """Hand over what is waiting (for at most ``timeout_s``), then stop the thread."""
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            follow_up, trace = item
            try:
                with tracing.continued(trace, "webhook.enqueue", actor=follow_up.actor):
                    self._enqueue(follow_up)
            except Exception as error:  # committed already: the sweep re-queues it
                log.warning(
                    "could not queue %s (%s); the scheduler's sweep will", follow_up.actor, error
                )
