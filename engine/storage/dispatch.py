"""The dispatcher's store: the statements of one pass, on that pass's connection.

The dispatcher decides (how much each phone may take, which due steps wait for their
send window, which phone a first message goes out from); this store reads the backlog
those decisions need and writes what they decided. A pass is one transaction, so the
store is built on its connection and the messages are enqueued only after it commits.
Steps are claimed with one conditional UPDATE (``step_state = 'due'``), so two
dispatchers running at once never dispatch a step twice. The statements are the same
on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, and_, bindparam, func, select, tuple_, update

from engine.settings import SchedulerSettings
from engine.states import (
    END_STATES,
    RUNNING_STATES,
    CampaignState,
    EnrollmentState,
    PhoneState,
    StepState,
)
from engine.storage import autoreplies
from engine.tables import C, E, L, M, P, Q, first_message, phone_ids_of, running
from phones.states import past_grace
from sequences.journey import EndReason, end_state

__all__ = ["Candidate", "DispatchStore"]

# Only running enrollments hold a place in a phone's queue or need recovery: one that
# ended while its step was queued or sending (a reply, a stop) is finished with.
# Leading with ``state`` also lets these scans use ``ix_enrollments_dispatch``.
_RUNNING = running()
# Paused ones too: a send in flight when a colleague's reply paused it is settled (sent
# or not) while paused, so that a person can resume it (:mod:`sequences.lead_resume`).
_ANY_STATE = sorted(RUNNING_STATES | END_STATES | {EnrollmentState.PAUSED.value})

# The states a phone's contacted leads may be given up in, and the reason they end with.
_STRANDED_BY = {
    PhoneState.BANNED.value: EndReason.PHONE_BANNED,
    PhoneState.OFFLINE.value: EndReason.PHONE_OFFLINE,
}
_AWAY = sorted(_STRANDED_BY)

# A due step with what its send window needs, read for a pass.
_CANDIDATE = (
    E.c.id, E.c.step, E.c.sequence, E.c.phone_id, L.c.phone, L.c.timezone, L.c.region,
    E.c.due_at,
)  # fmt: skip
_CANDIDATE_FROM = E.join(L, L.c.id == E.c.lead_id).join(C, C.c.id == E.c.campaign_id)

# A step due outside its window waits for the opening; only while it is still due.
_DEFER = (
    update(E)
    .where(E.c.id == bindparam("eid"), E.c.step_state == StepState.DUE)
    .values(due_at=bindparam("due"))
)


@dataclass(frozen=True)
class Candidate:
    """A due step a pass may hand to a phone: its enrollment, step and sequence, the phone
    it is bound to (``None`` for a first message: a phone is chosen), the lead's number,
    zone and region (its country), which decide the lead's send window and closed days,
    when it was due, and the phones its
    campaign may start a conversation from (``None``: any)."""

    id: int
    step: int
    sequence: str
    phone_id: str | None
    lead_phone: str
    lead_timezone: str | None
    lead_region: str | None = None
    due_at: datetime | None = None
    phones: frozenset[str] | None = None


class DispatchStore:
    """The statements of one dispatcher pass, all in the transaction of ``connection``."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    # Lost and stuck work ------------------------------------------------------------

    def requeue_lost(self, now: datetime, after_s: float) -> int:
        """Steps queued longer than ``after_s`` (their message was lost: Redis flushed or
        restarted) are due again; how many."""
        cutoff = now - timedelta(seconds=after_s)
        lost = and_(_RUNNING, E.c.step_state == StepState.QUEUED, E.c.queued_at < cutoff)
        # A first message not yet sent may go out from any phone: choose again.
        first = self.connection.execute(
            update(E)
            .where(lost, E.c.step == 0)
            .values(step_state=StepState.DUE, queued_at=None, phone_id=None)
        ).rowcount
        later = self.connection.execute(
            update(E).where(lost, E.c.step > 0).values(step_state=StepState.DUE, queued_at=None)
        ).rowcount
        return int(first + later)

    def fail_stranded(self, now: datetime, settings: SchedulerSettings) -> int:
        """Contacted leads of a phone away past its grace (banned, or offline:
        :func:`phones.states.grace_end`) end ``failed``, the reason naming its state.

        Their chat lives on that number, so their follow-ups cannot move; leads not yet
        contacted are never stranded (they go out from another phone).
        """
        away = self.connection.execute(
            select(P.c.id, P.c.state, P.c.state_changed_at).where(P.c.state.in_(_AWAY))
        ).all()
        ended = 0
        for phone_id, state, since in away:
            if not past_grace(state, since, now, settings):
                continue
            reason = _STRANDED_BY[state]
            ended += self.connection.execute(
                update(E)
                .where(E.c.state == EnrollmentState.ACTIVE, E.c.phone_id == phone_id)
                .values(state=end_state(reason), end_reason=reason, ended_at=now, updated_at=now)
            ).rowcount
        return ended

    def mark_stuck(self, now: datetime, grace_s: float) -> list[tuple[int, int, str]]:
        """Steps left in ``sending`` longer than ``grace_s`` (past the lease and reconcile
        time), marked queued again at ``now`` for their actor to reconcile: (enrollment,
        step, phone). Also those of an enrollment that ended (a reply) meanwhile."""
        cutoff = now - timedelta(seconds=grace_s)
        stuck = and_(
            # Ended ones too: a step in flight when a reply or a stop came is reconciled.
            E.c.state.in_(_ANY_STATE),
            E.c.step_state == StepState.SENDING,
            E.c.sending_at < cutoff,
            E.c.phone_id.is_not(None),
            func.coalesce(E.c.queued_at, E.c.sending_at) < cutoff,
        )
        rows = self.connection.execute(
            update(E).where(stuck).values(queued_at=now).returning(E.c.id, E.c.step, E.c.phone_id)
        ).all()
        return [(int(i), int(s), str(p)) for i, s, p in rows]

    # Phones ------------------------------------------------------------------------

    def active_phones(self) -> set[str]:
        """The phones whose state is ``active`` (configured or not)."""
        rows = self.connection.execute(select(P.c.id).where(P.c.state == PhoneState.ACTIVE))
        return set(rows.scalars())

    def half_open_phones(self) -> set[str]:
        """The phones whose breaker lets one first message through (``half_open``)."""
        rows = self.connection.execute(select(P.c.id).where(P.c.state == PhoneState.HALF_OPEN))
        return set(rows.scalars())

    def queued_counts(self) -> dict[tuple[str, bool], int]:
        """Sends already queued or in flight, by (phone, is first message)."""
        rows = self.connection.execute(
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

    def first_messages_since(self, since: datetime, phones: Collection[str]) -> dict[str, int]:
        """First messages each of ``phones`` sent after ``since`` (its hourly cap's count
        of sent ones; ``ix_messages_first_sent``, its predicate written into the SQL)."""
        if not phones:
            return {}
        rows = self.connection.execute(
            select(M.c.phone_id, func.count())
            .where(
                M.c.phone_id.in_(sorted(phones)),
                first_message(),
                M.c.sent_at > since,
            )
            .group_by(M.c.phone_id)
        )
        return {phone: int(count) for phone, count in rows}

    def quota_used(self, day: date) -> dict[str, int]:
        """New contacts each phone has started on the local ``day``."""
        rows = self.connection.execute(select(Q.c.phone_id, Q.c.used).where(Q.c.day == day))
        return {phone: int(count) for phone, count in rows}

    # Due steps ------------------------------------------------------------------------

    def due_followups(
        self, now: datetime, phones: Collection[str], per_phone: int
    ) -> list[Candidate]:
        """Follow-ups due by ``now`` on ``phones`` (their chat's), at most ``per_phone``
        of each, the longest due first."""
        ranked = (
            select(
                *_CANDIDATE,
                func.row_number()
                .over(partition_by=E.c.phone_id, order_by=(E.c.due_at, E.c.id))
                .label("rank"),
            )
            .select_from(_CANDIDATE_FROM)
            .where(
                E.c.state == EnrollmentState.ACTIVE,
                E.c.step_state == StepState.DUE,
                E.c.step > 0,
                E.c.due_at <= now,
                E.c.phone_id.in_(phones),
                C.c.state == CampaignState.ACTIVE,
            )
            .subquery()
        )
        columns = ("id", "step", "sequence", "phone_id", "phone", "timezone", "region", "due_at")
        rows = self.connection.execute(
            select(*[ranked.c[n] for n in columns]).where(ranked.c.rank <= per_phone)
        ).all()
        return [Candidate(*row) for row in rows]

    def limited_campaigns(self) -> dict[int, frozenset[str]]:
        """The active campaigns that may start conversations only from some phones."""
        rows = self.connection.execute(
            select(C.c.id, C.c.phone_ids).where(
                C.c.state == CampaignState.ACTIVE, C.c.phone_ids.is_not(None)
            )
        )
        return {int(i): phone_ids_of(phones) or frozenset() for i, phones in rows}

    def due_first_messages(
        self, now: datetime, limit: int, *, campaign: tuple[int, frozenset[str]] | None = None
    ) -> list[Candidate]:
        """First messages due by ``now``, at most ``limit``, the longest due first: of the
        campaigns open to every phone, or only of ``campaign`` (its id and its phones)."""
        only = C.c.phone_ids.is_(None) if campaign is None else E.c.campaign_id == campaign[0]
        rows = self.connection.execute(
            select(*_CANDIDATE)
            .select_from(_CANDIDATE_FROM)
            .where(
                E.c.state == EnrollmentState.PENDING,
                E.c.step_state == StepState.DUE,
                E.c.step == 0,
                E.c.due_at <= now,
                C.c.state == CampaignState.ACTIVE,
                only,
            )
            .order_by(E.c.due_at, E.c.id)
            .limit(limit)
        ).all()
        phones = None if campaign is None else campaign[1]
        return [Candidate(*row, phones=phones) for row in rows]

    # Writes of the decisions ---------------------------------------------------------

    def defer(self, due: Sequence[tuple[int, datetime]]) -> None:
        """Each (enrollment, moment): its step, still due, becomes due at that moment."""
        if due:
            self.connection.execute(_DEFER, [{"eid": eid, "due": at} for eid, at in due])

    def claim(
        self, now: datetime, phone: str, chosen: Sequence[Candidate]
    ) -> list[tuple[int, int]]:
        """Queue ``chosen`` on ``phone``; the (enrollment, step) pairs this pass won."""
        if not chosen:
            return []
        rows = self.connection.execute(
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

    # Automatic answers ---------------------------------------------------------------

    def queue_answers(
        self, now: datetime, *, requeue_after_s: float, give_up_after_s: float
    ) -> list[tuple[str, int]]:
        """Automatic answers due by ``now``, claimed for their phones' queues: (phone, id).

        Answers whose message was lost are due again first; those left ``sending`` past
        ``give_up_after_s`` fail (see :mod:`engine.storage.autoreplies`).
        """
        autoreplies.requeue_lost(self.connection, now, requeue_after_s)
        autoreplies.give_up_stuck(self.connection, now, give_up_after_s)
        return [(phone, i) for i, phone in autoreplies.due_for_dispatch(self.connection, now)]
