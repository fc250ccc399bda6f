"""The dispatcher: moves due steps from the database into the phones' queues.

Each pass hands a phone only what it can send soon (its quota left today, its
pacing over ``queue_ahead_s``, at most ``max_queued_per_phone``), so queues stay
short and the backlog stays in the database, where pause, resume and stop are
easy. Steps are claimed with one conditional UPDATE (``step_state = 'due'``), so two
schedulers running at once never dispatch a step twice; messages are enqueued
only after the claim is committed. A claimed step whose message was lost (Redis
flushed or restarted) is claimed again after ``requeue_after_s``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import redis
from sqlalchemy import Connection, and_, bindparam, func, select, tuple_, update
from sqlalchemy.exc import SQLAlchemyError

from engine.broker import FIRST, FOLLOWUP, queue_name
from engine.clock import Clock
from engine.db import Database
from engine.models import CampaignState, EnrollmentState, PhoneState, StepState
from engine.settings import Settings
from engine.storage import autoreplies, dispatch_id
from engine.tables import C, E, L, P, Q
from phones.choice import PhoneLoad, spread
from phones.quota import daily_quota, quota_day
from sequences import (
    END_STATES,
    RUNNING_STATES,
    EndReason,
    Sequence,
    complete_finished,
    end_state,
    is_open,
    lead_timezone,
    next_open,
)

# Only running enrollments hold a place in a phone's queue or need recovery: one that
# ended while its step was queued or sending (a reply, a stop) is finished with.
# Leading with ``state`` also lets these scans use ``ix_enrollments_dispatch``.
_RUNNING = E.c.state.in_(sorted(RUNNING_STATES))
_ANY_STATE = sorted(RUNNING_STATES | END_STATES)

log = logging.getLogger("outreach.dispatcher")

Enqueue = Callable[[str, int, int, int], None]
"""``enqueue(queue, enrollment_id, step, dispatch_id)`` puts one send on a queue."""
EnqueueAnswer = Callable[[str, int], None]
"""``enqueue_answer(phone_id, auto_reply_id)`` puts one automatic answer on a phone's queue."""


@dataclass
class DispatchReport:
    """What one pass did."""

    first_messages: int = 0
    followups: int = 0
    deferred_to_window: int = 0
    requeued_lost: int = 0
    reconciling: int = 0
    failed_banned: int = 0
    answers: int = 0
    completed_campaigns: list[str] = field(default_factory=list)
    per_phone: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Candidate:
    id: int
    step: int
    sequence: str
    phone_id: str | None
    lead_phone: str
    lead_timezone: str | None


class Dispatcher:
    """One dispatcher pass at a time per instance; several instances may run at once."""

    def __init__(
        self,
        settings: Settings,
        sequences: Mapping[str, Sequence],
        database: Database,
        enqueue: Enqueue,
        enqueue_answer: EnqueueAnswer | None = None,
    ) -> None:
        self.settings = settings
        self.sequences = sequences
        self.database = database
        self.enqueue = enqueue
        self.enqueue_answer = enqueue_answer

    def capacity_per_phone(self) -> int:
        """How many sends one phone's queue may hold: what it can send within ``queue_ahead_s``."""
        scheduler = self.settings.scheduler
        gap_s = max(self.settings.pacing.jitter_min_s, 1e-3)
        return max(
            1, min(scheduler.max_queued_per_phone, math.ceil(scheduler.queue_ahead_s / gap_s))
        )

    def run_once(self, now: datetime) -> DispatchReport:
        """One pass at ``now``: requeue lost work, then follow-ups, then first messages."""
        report = DispatchReport()
        to_enqueue: list[tuple[str, int, int, int]] = []
        with self.database.engine.begin() as connection:
            report.requeued_lost = self._requeue_lost(connection, now)
            report.failed_banned = self._fail_stranded(connection, now)
            to_enqueue += self._reconcile_stuck(connection, now, report)
            active = self._active_phones(connection)
            queued = self._queued_counts(connection)
            to_enqueue += self._followups(connection, now, active, queued, report)
            to_enqueue += self._first_messages(connection, now, active, queued, report)
            report.completed_campaigns = complete_finished(connection, now)
            answers = self._answers(connection, now)
        for phone_id, auto_reply_id in answers:
            assert self.enqueue_answer is not None
            self.enqueue_answer(phone_id, auto_reply_id)
        report.answers = len(answers)
        for name in report.completed_campaigns:
            log.info("campaign %s completed: every enrollment has ended", name)
        for queue, enrollment_id, step, dispatch in to_enqueue:
            self.enqueue(queue, enrollment_id, step, dispatch)
            report.per_phone[queue] = report.per_phone.get(queue, 0) + 1
        return report

    def _answers(self, connection: Connection, now: datetime) -> list[tuple[str, int]]:
        """Automatic answers to replies that are due, claimed for their phones' queues."""
        if self.enqueue_answer is None:
            return []
        autoreplies.requeue_lost(connection, now, self.settings.scheduler.requeue_after_s)
        worker = self.settings.worker
        grace_s = worker.reconcile_after_s + worker.lease_ttl_s * self.settings.clock.speed
        autoreplies.give_up_stuck(connection, now, grace_s)
        return [(phone, i) for i, phone in autoreplies.due_for_dispatch(connection, now)]

    # Lost and stuck work ------------------------------------------------------------

    def _requeue_lost(self, connection: Connection, now: datetime) -> int:
        cutoff = now - timedelta(seconds=self.settings.scheduler.requeue_after_s)
        lost = and_(_RUNNING, E.c.step_state == StepState.QUEUED, E.c.queued_at < cutoff)
        # A first message not yet sent may go out from any phone: choose again.
        first = connection.execute(
            update(E)
            .where(lost, E.c.step == 0)
            .values(step_state=StepState.DUE, queued_at=None, phone_id=None)
        ).rowcount
        later = connection.execute(
            update(E).where(lost, E.c.step > 0).values(step_state=StepState.DUE, queued_at=None)
        ).rowcount
        return int(first + later)

    def _fail_stranded(self, connection: Connection, now: datetime) -> int:
        """Contacted leads of a phone banned for longer than the grace end ``failed``.

        Their chat lives on that number, so their follow-ups cannot move; leads not yet
        contacted are never stranded (they go out from another phone).
        """
        cutoff = now - timedelta(seconds=self.settings.scheduler.banned_phone_grace_s)
        banned = select(P.c.id).where(P.c.state == PhoneState.BANNED, P.c.state_changed_at < cutoff)
        result = connection.execute(
            update(E)
            .where(E.c.state == EnrollmentState.ACTIVE, E.c.phone_id.in_(banned))
            .values(
                state=end_state(EndReason.PHONE_BANNED),
                end_reason=EndReason.PHONE_BANNED,
                ended_at=now,
                updated_at=now,
            )
        )
        return int(result.rowcount)

    def _reconcile_stuck(
        self, connection: Connection, now: datetime, report: DispatchReport
    ) -> list[tuple[str, int, int, int]]:
        """Steps left in ``sending`` past the lease and reconcile time go to the actor again,
        also those of an enrollment that ended (a reply) while the send was in flight."""
        worker = self.settings.worker
        grace_s = worker.reconcile_after_s + worker.lease_ttl_s * self.settings.clock.speed
        cutoff = now - timedelta(seconds=grace_s)
        stuck = and_(
            # Ended ones too: a step in flight when a reply or a stop came is reconciled.
            E.c.state.in_(_ANY_STATE),
            E.c.step_state == StepState.SENDING,
            E.c.sending_at < cutoff,
            E.c.phone_id.is_not(None),
            func.coalesce(E.c.queued_at, E.c.sending_at) < cutoff,
        )
        rows = connection.execute(
            update(E).where(stuck).values(queued_at=now).returning(E.c.id, E.c.step, E.c.phone_id)
        ).all()
        report.reconciling = len(rows)
        dispatch = dispatch_id(now)
        return [(queue_name(p, FIRST if s == 0 else FOLLOWUP), i, s, dispatch) for i, s, p in rows]

    # Phones ------------------------------------------------------------------------

    def _active_phones(self, connection: Connection) -> set[str]:
        configured = {p.id for p in self.settings.phones}
        rows = connection.execute(select(P.c.id).where(P.c.state == PhoneState.ACTIVE)).scalars()
        return configured & set(rows)

    def _queued_counts(self, connection: Connection) -> dict[tuple[str, bool], int]:
        """Sends already queued or in flight, by (phone, is first message)."""
        rows = connection.execute(
            select(E.c.phone_id, E.c.step, func.count())
            .where(
                _RUNNING,
                E.c.step_state.in_([StepState.QUEUED, StepState.SENDING]),
                E.c.phone_id.is_not(None),
            )
            .group_by(E.c.phone_id, E.c.step)
        ).all()
        counts: dict[tuple[str, bool], int] = defaultdict(int)
        for phone, step, count in rows:
            counts[(phone, step == 0)] += int(count)
        return counts

    # Follow-ups ------------------------------------------------------------------------

    def _followups(
        self,
        connection: Connection,
        now: datetime,
        active: set[str],
        queued: Mapping[tuple[str, bool], int],
        report: DispatchReport,
    ) -> list[tuple[str, int, int, int]]:
        cap = self.capacity_per_phone()
        room = {phone: cap - queued.get((phone, False), 0) for phone in active}
        room = {phone: n for phone, n in room.items() if n > 0}
        if not room:
            return []
        ranked = (
            select(
                E.c.id, E.c.step, E.c.sequence, E.c.phone_id, L.c.phone, L.c.timezone,
                func.row_number()
                .over(partition_by=E.c.phone_id, order_by=(E.c.due_at, E.c.id))
                .label("rank"),
            )
            .select_from(E.join(L, L.c.id == E.c.lead_id).join(C, C.c.sequence == E.c.sequence))
            .where(
                E.c.state == EnrollmentState.ACTIVE,
                E.c.step_state == StepState.DUE,
                E.c.step > 0,
                E.c.due_at <= now,
                E.c.phone_id.in_(room),
                C.c.state == CampaignState.ACTIVE,
            )
            .subquery()
        )  # fmt: skip
        rows = connection.execute(
            select(
                *[ranked.c[n] for n in ("id", "step", "sequence", "phone_id", "phone", "timezone")]
            ).where(ranked.c.rank <= max(room.values()))
        ).all()
        candidates = [_Candidate(*row) for row in rows]
        sendable = self._defer_closed(connection, now, candidates, report)
        claim: dict[str, list[_Candidate]] = defaultdict(list)
        for candidate in sendable:
            phone = candidate.phone_id or ""
            if len(claim[phone]) < room.get(phone, 0):
                claim[phone].append(candidate)
        out = []
        for phone, chosen in claim.items():
            for enrollment_id, step in self._claim(connection, now, phone, chosen):
                out.append((queue_name(phone, FOLLOWUP), enrollment_id, step, dispatch_id(now)))
        report.followups = len(out)
        return out

    # First messages ------------------------------------------------------------------

    def _first_messages(
        self,
        connection: Connection,
        now: datetime,
        active: set[str],
        queued: Mapping[tuple[str, bool], int],
        report: DispatchReport,
    ) -> list[tuple[str, int, int, int]]:
        loads = list(self._first_message_loads(connection, now, active, queued))
        total = sum(
            max(0, min(load.quota_left - load.pending, self._room_first(load))) for load in loads
        )
        if total <= 0:
            return []
        rows = connection.execute(
            select(E.c.id, E.c.step, E.c.sequence, E.c.phone_id, L.c.phone, L.c.timezone)
            .select_from(E.join(L, L.c.id == E.c.lead_id).join(C, C.c.sequence == E.c.sequence))
            .where(
                E.c.state == EnrollmentState.PENDING,
                E.c.step_state == StepState.DUE,
                E.c.step == 0,
                E.c.due_at <= now,
                C.c.state == CampaignState.ACTIVE,
            )
            .order_by(E.c.due_at, E.c.id)
            .limit(total)
        ).all()
        sendable = self._defer_closed(connection, now, [_Candidate(*row) for row in rows], report)
        # Cap each phone's quota at what its queue may still hold this pass.
        capped = [
            PhoneLoad(
                load.id, load.active, min(load.quota_left, load.pending + self._room_first(load)),
                load.pending, load.used_today,
            )
            for load in loads
        ]  # fmt: skip
        assignment = spread(capped, len(sendable))
        out: list[tuple[str, int, int, int]] = []
        position = 0
        for phone, count in sorted(assignment.items()):
            chosen = sendable[position : position + count]
            position += count
            for enrollment_id, step in self._claim(connection, now, phone, chosen):
                out.append((queue_name(phone, FIRST), enrollment_id, step, dispatch_id(now)))
        report.first_messages = len(out)
        return out

    def _room_first(self, load: PhoneLoad) -> int:
        return max(0, self.capacity_per_phone() - load.pending)

    def _first_message_loads(
        self,
        connection: Connection,
        now: datetime,
        active: set[str],
        queued: Mapping[tuple[str, bool], int],
    ) -> Iterable[PhoneLoad]:
        day = quota_day(now, self.settings.quota.timezone)
        rows = connection.execute(select(Q.c.phone_id, Q.c.used).where(Q.c.day == day)).all()
        used: dict[str, int] = {phone: int(count) for phone, count in rows}
        for phone in self.settings.phones:
            if phone.id not in active:
                continue
            limit = daily_quota(
                self.settings.quota_for(phone), started_on=phone.started_on, today=day,
                warmup=self.settings.quota.warmup,
            )  # fmt: skip
            used_today = int(used.get(phone.id, 0))
            yield PhoneLoad(
                id=phone.id,
                active=True,
                quota_left=max(0, limit - used_today),
                pending=queued.get((phone.id, True), 0),
                used_today=used_today,
            )

    # Shared ----------------------------------------------------------------------------

    def _defer_closed(
        self,
        connection: Connection,
        now: datetime,
        candidates: list[_Candidate],
        report: DispatchReport,
    ) -> list[_Candidate]:
        """Steps due outside their send window wait for its next opening (in the lead's zone)."""
        sendable, deferred = [], []
        for candidate in candidates:
            sequence = self.sequences.get(candidate.sequence)
            if sequence is None:
                continue  # a sequence removed from the config: its enrollments wait, visibly
            if sequence.window is None:
                sendable.append(candidate)
                continue
            zone = lead_timezone(
                sequence.timezone,
                candidate.lead_timezone,
                candidate.lead_phone,
                self.settings.quota.timezone,
            )
            if is_open(sequence.window, zone, now):
                sendable.append(candidate)
            else:
                deferred.append({"eid": candidate.id, "due": next_open(sequence.window, zone, now)})
        if deferred:
            connection.execute(
                update(E)
                .where(E.c.id == bindparam("eid"), E.c.step_state == StepState.DUE)
                .values(due_at=bindparam("due")),
                deferred,
            )
        report.deferred_to_window += len(deferred)
        return sendable

    def _claim(
        self, connection: Connection, now: datetime, phone: str, chosen: list[_Candidate]
    ) -> list[tuple[int, int]]:
        if not chosen:
            return []
        rows = connection.execute(
            update(E)
            .where(
                # The step read, still due: a row another dispatcher queued, that a worker
                # sent and that moved on to its next (due) step meanwhile is not this one.
                tuple_(E.c.id, E.c.step).in_([(c.id, c.step) for c in chosen]),
                E.c.step_state == StepState.DUE,
            )
            .values(step_state=StepState.QUEUED, queued_at=now, phone_id=phone, updated_at=now)
            .returning(E.c.id, E.c.step)
        ).all()
        return [(int(i), int(s)) for i, s in rows]


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
