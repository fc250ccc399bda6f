"""The dispatcher: moves due steps from the database into the phones' queues.

Each pass hands a phone only what it can send soon (its quota left today and in its
last hour, its pacing over ``queue_ahead_s``, at most ``max_queued_per_phone``), so queues stay
short and the backlog stays in the database, where pause, resume and stop are
easy. Only active campaigns' steps move; a first message goes out only from a phone
its campaign may use (:func:`phones.choice.assign`). The decisions are here; the
statements are the dispatcher's store (:mod:`engine.storage.dispatch`), which claims
steps with one conditional UPDATE (``step_state = 'due'``), so two schedulers running
at once never dispatch a step twice. A pass is one transaction, and messages are
enqueued only after the claim is committed. A claimed step whose message was lost
(Redis flushed or restarted) is claimed again after ``requeue_after_s``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import redis
from sqlalchemy.exc import SQLAlchemyError

from engine import tracing
from engine.broker import FIRST, FOLLOWUP, queue_name
from engine.clock import Clock
from engine.db import Database
from engine.settings import Settings
from engine.storage import dispatch_id
from engine.storage.dispatch import Candidate, DispatchStore
from phones.choice import PhoneLoad, assign
from phones.quota import HOUR, daily_quota, left_now, quota_day, quota_left
from sequences import (
    Sequence,
    closed_days,
    complete_finished,
    is_open,
    lead_timezone,
    next_open,
    start_scheduled,
)

log = logging.getLogger("outreach.dispatcher")

Enqueue = Callable[[str, int, int, int], None]
"""``enqueue(queue, enrollment_id, step, dispatch_id)`` puts one send on a queue."""
EnqueueAnswer = Callable[[str, int], None]
"""``enqueue_answer(phone_id, auto_reply_id)`` puts one automatic answer on a phone's queue."""

PROBE_SENDS = 1
"""First messages a half-open phone is handed (:mod:`phones.breaker`)."""

_Send = tuple[str, int, int, int]
"""What to enqueue: (queue, enrollment_id, step, dispatch_id)."""


@dataclass
class DispatchReport:
    """What one pass did."""

    first_messages: int = 0
    followups: int = 0
    deferred_to_window: int = 0
    requeued_lost: int = 0
    reconciling: int = 0
    failed_stranded: int = 0
    answers: int = 0
    started_campaigns: list[str] = field(default_factory=list)
    completed_campaigns: list[str] = field(default_factory=list)
    per_phone: dict[str, int] = field(default_factory=dict)


def split_by_window(
    now: datetime,
    candidates: Iterable[Candidate],
    sequences: Mapping[str, Sequence],
    fallback_zone: str,
) -> tuple[list[Candidate], list[tuple[int, datetime]]]:
    """The candidates that may be sent at ``now``, and (enrollment, next opening) for
    those due outside their send window or on a closed day of the lead (a public holiday
    of its country, a skip date), read in the lead's zone (``fallback_zone`` when the
    lead's zone is unknown). A candidate of a sequence removed from the config is in
    neither: its enrollment waits, visibly, and keeps its due time."""
    sendable: list[Candidate] = []
    deferred: list[tuple[int, datetime]] = []
    for candidate in candidates:
        sequence = sequences.get(candidate.sequence)
        if sequence is None:
            continue
        closed = closed_days(sequence, candidate.lead_region, candidate.lead_phone)
        if sequence.window is None and not closed:
            sendable.append(candidate)
            continue
        zone = lead_timezone(
            sequence.timezone, candidate.lead_timezone, candidate.lead_phone, fallback_zone
        )
        if is_open(sequence.window, zone, now, closed):
            sendable.append(candidate)
        else:
            deferred.append((candidate.id, next_open(sequence.window, zone, now, closed)))
    return sendable, deferred


class Dispatcher:
    """One dispatcher pass at a time per instance; several instances may run at once."""

    def __init__(
        self,
        settings: Settings,
        sequences: Mapping[str, Sequence],
        database: Database,
        enqueue: Enqueue,
        enqueue_answer: EnqueueAnswer | None = None,
        *,
        quota_halted: Callable[[], bool] = lambda: False,
    ) -> None:
        self.settings = settings
        self.sequences = sequences
        self.database = database
        self.enqueue = enqueue
        self.enqueue_answer = enqueue_answer
        # Whether the workspace's monthly messages are at their reserve (engine.
        # workspace_quota): a halt of days, so nothing is queued only to come back due.
        self.quota_halted = quota_halted

    def capacity_per_phone(self) -> int:
        """How many sends one phone's queue may hold: what it can send within ``queue_ahead_s``."""
        scheduler = self.settings.scheduler
        gap_s = max(self.settings.pacing.jitter_min_s, 1e-3)
        return max(
            1, min(scheduler.max_queued_per_phone, math.ceil(scheduler.queue_ahead_s / gap_s))
        )

    def run_once(self, now: datetime) -> DispatchReport:
        """One pass at ``now``: start the campaigns whose start has come, requeue lost
        work, then follow-ups, then first messages. The pass is one span; each message
        it enqueues starts a trace of its own (linked to the pass), continued by the
        worker that sends it."""
        with tracing.span("dispatcher.pass") as span:
            report = self._run_once(now)
            span.set(first_messages=report.first_messages, followups=report.followups)
            return report

    def _run_once(self, now: datetime) -> DispatchReport:
        scheduler = self.settings.scheduler
        report = DispatchReport()
        to_enqueue: list[_Send] = []
        with self.database.engine.begin() as connection:
            store = DispatchStore(connection)
            report.started_campaigns = start_scheduled(connection, now)
            report.requeued_lost = store.requeue_lost(now, scheduler.requeue_after_s)
            report.failed_stranded = store.fail_stranded(now, scheduler)
            to_enqueue += self._reconcile_stuck(store, now, report)
            halted = self.quota_halted()
            configured = {p.id for p in self.settings.phones}
            active = configured & store.active_phones()
            probing = configured & store.half_open_phones()
            if halted:
                # The steps stay due in the database until the halt lifts.
                active, probing = set(), set()
            queued = store.queued_counts()
            to_enqueue += self._followups(store, now, active, queued, report)
            to_enqueue += self._first_messages(store, now, active, queued, report, probing=probing)
            report.completed_campaigns = complete_finished(connection, now)
            answers = [] if halted else self._answers(store, now)
        for phone_id, auto_reply_id in answers:
            assert self.enqueue_answer is not None
            with tracing.new_trace(
                "dispatcher.enqueue_answer", phone_id=phone_id, auto_reply_id=auto_reply_id
            ):
                self.enqueue_answer(phone_id, auto_reply_id)
        report.answers = len(answers)
        for name in report.started_campaigns:
            log.info("campaign %s started: its start time has come", name)
        for name in report.completed_campaigns:
            log.info("campaign %s completed: every enrollment has ended", name)
        for queue, enrollment_id, step, dispatch in to_enqueue:
            with tracing.new_trace(
                "dispatcher.enqueue", queue=queue, enrollment_id=enrollment_id, step=step + 1
            ):
                self.enqueue(queue, enrollment_id, step, dispatch)
            report.per_phone[queue] = report.per_phone.get(queue, 0) + 1
        return report

    def _stuck_after_s(self) -> float:
        """How long a send may stay ``sending`` before it counts as stuck: the reconcile
        time plus the longest lease (real seconds, so scaled to the clock's speed)."""
        worker = self.settings.worker
        return worker.reconcile_after_s + worker.lease_ttl_s * self.settings.clock.speed

    def _answers(self, store: DispatchStore, now: datetime) -> list[tuple[str, int]]:
        """Automatic answers to replies that are due, claimed for their phones' queues."""
        if self.enqueue_answer is None:
            return []
        return store.queue_answers(
            now,
            requeue_after_s=self.settings.scheduler.requeue_after_s,
            give_up_after_s=self._stuck_after_s(),
        )

    def _reconcile_stuck(
        self, store: DispatchStore, now: datetime, report: DispatchReport
    ) -> list[_Send]:
        """Steps left in ``sending`` past the lease and reconcile time go to the actor again,
        also those of an enrollment that ended (a reply) while the send was in flight."""
        rows = store.mark_stuck(now, self._stuck_after_s())
        report.reconciling = len(rows)
        dispatch = dispatch_id(now)
        return [(queue_name(p, FIRST if s == 0 else FOLLOWUP), i, s, dispatch) for i, s, p in rows]

    # Follow-ups ------------------------------------------------------------------------

    def _followups(
        self,
        store: DispatchStore,
        now: datetime,
        active: set[str],
        queued: Mapping[tuple[str, bool], int],
        report: DispatchReport,
    ) -> list[_Send]:
        cap = self.capacity_per_phone()
        room = {phone: cap - queued.get((phone, False), 0) for phone in active}
        room = {phone: n for phone, n in room.items() if n > 0}
        if not room:
            return []
        candidates = store.due_followups(now, list(room), max(room.values()))
        sendable = self._defer_closed(store, now, candidates, report)
        claim: dict[str, list[Candidate]] = defaultdict(list)
        for candidate in sendable:
            phone = candidate.phone_id or ""
            if len(claim[phone]) < room.get(phone, 0):
                claim[phone].append(candidate)
        out = []
        for phone, chosen in claim.items():
            for enrollment_id, step in store.claim(now, phone, chosen):
                out.append((queue_name(phone, FOLLOWUP), enrollment_id, step, dispatch_id(now)))
        report.followups = len(out)
        return out

    # First messages ------------------------------------------------------------------

    def _first_messages(
        self,
        store: DispatchStore,
        now: datetime,
        active: set[str],
        queued: Mapping[tuple[str, bool], int],
        report: DispatchReport,
        *,
        probing: set[str],
    ) -> list[_Send]:
        day = quota_day(now, self.settings.quota.timezone)
        in_hour = self._first_messages_in_hour(store, now, active | probing)
        used = store.quota_used(day)
        loads = list(self._first_message_loads(day, used, in_hour, active, queued, probing=probing))
        room = {
            load.id: max(0, min(load.quota_left - load.pending, self._room_first(load)))
            for load in loads
        }
        total = sum(room.values())
        if total <= 0:
            return []
        candidates = store.due_first_messages(now, total)
        # A campaign limited to some phones is read apart, up to what those phones can
        # take, so neither its backlog nor the others' holds back the rest of the pool.
        for campaign in store.limited_campaigns().items():
            own = sum(room.get(phone, 0) for phone in campaign[1])
            if own > 0:
                candidates += store.due_first_messages(now, own, campaign=campaign)
        candidates.sort(key=lambda c: (c.due_at or now, c.id))
        sendable = self._defer_closed(store, now, candidates, report)
        # Cap each phone's quota at what its queue may still hold this pass.
        capped = [
            PhoneLoad(
                load.id, load.active, min(load.quota_left, load.pending + self._room_first(load)),
                load.pending, load.used_today,
            )
            for load in loads
        ]  # fmt: skip
        chosen_phones = assign(capped, [candidate.phones for candidate in sendable])
        by_phone: dict[str, list[Candidate]] = defaultdict(list)
        for candidate, chosen_phone in zip(sendable, chosen_phones, strict=True):
            if chosen_phone is not None:
                by_phone[chosen_phone].append(candidate)
        out: list[_Send] = []
        for phone, chosen in sorted(by_phone.items()):
            for enrollment_id, step in store.claim(now, phone, chosen):
                out.append((queue_name(phone, FIRST), enrollment_id, step, dispatch_id(now)))
        report.first_messages = len(out)
        return out

    def _room_first(self, load: PhoneLoad) -> int:
        return max(0, self.capacity_per_phone() - load.pending)

    def _first_messages_in_hour(
        self, store: DispatchStore, now: datetime, active: set[str]
    ) -> Mapping[str, int]:
        """Each phone's first messages sent in the last hour, when an hourly cap is set
        (those queued or in flight are its ``pending``)."""
        if self.settings.quota.new_contacts_per_hour <= 0:
            return {}
        return store.first_messages_since(now - HOUR, active)

    def _first_message_loads(
        self,
        day: date,
        used: Mapping[str, int],
        in_hour: Mapping[str, int],
        active: set[str],
        queued: Mapping[tuple[str, bool], int],
        *,
        probing: set[str],
    ) -> Iterable[PhoneLoad]:
        """Each phone that may start conversations now, with its room: a half-open phone
        (``probing``; its breaker's cooling is over) takes one first message, its probe."""
        for phone in self.settings.phones:
            if phone.id not in active and phone.id not in probing:
                continue
            limit = daily_quota(
                self.settings.quota_for(phone), started_on=phone.started_on, today=day,
                warmup=self.settings.quota.warmup,
            )  # fmt: skip
            used_today = int(used.get(phone.id, 0))
            # A phone whose hour is full is no pick now: it would only refuse the claim.
            left = left_now(
                quota_left(limit, used_today),
                per_hour=self.settings.quota.new_contacts_per_hour,
                sent_in_hour=in_hour.get(phone.id, 0),
            )
            yield PhoneLoad(
                id=phone.id,
                active=True,
                quota_left=left if phone.id in active else min(left, PROBE_SENDS),
                pending=queued.get((phone.id, True), 0),
                used_today=used_today,
            )

    # Shared ----------------------------------------------------------------------------

    def _defer_closed(
        self,
        store: DispatchStore,
        now: datetime,
        candidates: list[Candidate],
        report: DispatchReport,
    ) -> list[Candidate]:
        """Steps due outside their send window wait for its next opening (in the lead's zone)."""
        sendable, deferred = split_by_window(
            now, candidates, self.sequences, self.settings.quota.timezone
        )
        store.defer(deferred)
        report.deferred_to_window += len(deferred)
        return sendable


def dispatch_forever(
    dispatcher: Dispatcher, clock: Clock, stop: threading.Event, interval_s: float
) -> None:
    """Run passes every ``interval_s`` real seconds until ``stop`` is set.

    A pass that fails because the database or Redis is down is logged and tried again
    at the next interval: the scheduler outlives a restart of either, and nothing is
    lost because every pass starts from the database.
    """
    while not stop.is_set():
        try:
            dispatcher.run_once(clock.now())
        except (SQLAlchemyError, redis.RedisError, OSError) as error:
            log.error("dispatcher pass failed, retrying in %.1f s: %s", interval_s, error)
        stop.wait(interval_s)
