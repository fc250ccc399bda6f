"""Campaigns: pausing, resuming or stopping a sequence's sends, and completing it.

Launching, which enrolls leads, is :mod:`sequences.launch`. Pause, resume and stop
change the campaign row that the dispatcher and the sender read before every move: a
paused campaign's steps stay in the database (those already queued are taken back),
a resumed one carries on where it was, a stopped one ends every running enrollment
``stopped``. An active campaign whose enrollments have all ended becomes
``completed`` (the dispatcher checks on every pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, case, exists, null, select, update

from engine.db import Database
from engine.models import CampaignState, StepState
from engine.tables import C, E
from sequences.errors import SequencesError
from sequences.journey import RUNNING_STATES, EndReason, end_state

__all__ = ["CampaignChange", "CampaignError", "complete_finished", "pause", "resume", "stop"]

_RUNNING = sorted(RUNNING_STATES)


class CampaignError(SequencesError):
    """Raised when a campaign cannot be launched, paused, resumed or stopped as asked."""


@dataclass(frozen=True)
class CampaignChange:
    """A campaign's state before and after, and how many enrollments the change moved.

    ``enrollments`` counts steps taken back from the queues (pause) or enrollments
    ended (stop); 0 for resume and for a change that was already in place.
    """

    sequence: str
    previous: str
    state: str
    enrollments: int = 0

    @property
    def changed(self) -> bool:
        return self.previous != self.state


def pause(database: Database, sequence: str, *, now: datetime) -> CampaignChange:
    """Hold every send of the campaign not yet started; queued steps go back to ``due``.

    A first message taken back loses its phone, so after a resume it may go out from
    any phone. A send already under way finishes.
    """
    with database.engine.begin() as connection:
        previous = _state(connection, sequence)
        if previous in (CampaignState.STOPPED, CampaignState.COMPLETED):
            raise CampaignError(f"campaign {sequence!r} is {previous}; there is nothing to pause")
        _set_state(connection, sequence, CampaignState.PAUSED, now)
        held = connection.execute(
            update(E)
            .where(
                E.c.sequence == sequence,
                E.c.state.in_(_RUNNING),
                E.c.step_state == StepState.QUEUED,
            )
            .values(
                step_state=StepState.DUE,
                queued_at=None,
                phone_id=case((E.c.step == 0, null()), else_=E.c.phone_id),
                updated_at=now,
            )
        ).rowcount
    return CampaignChange(sequence, previous, CampaignState.PAUSED, int(held))


def resume(database: Database, sequence: str, *, now: datetime) -> CampaignChange:
    """Let a paused campaign send again; the dispatcher carries on where it stopped."""
    with database.engine.begin() as connection:
        previous = _state(connection, sequence)
        if previous in (CampaignState.STOPPED, CampaignState.COMPLETED):
            raise CampaignError(
                f"campaign {sequence!r} is {previous}; `outreach campaign launch {sequence}` "
                "starts it again with new leads"
            )
        _set_state(connection, sequence, CampaignState.ACTIVE, now)
    return CampaignChange(sequence, previous, CampaignState.ACTIVE)


def stop(database: Database, sequence: str, *, now: datetime) -> CampaignChange:
    """End every running enrollment of the campaign ``stopped`` (``stopped_by_operator``).

    Steps in a queue are marked back ``due`` so they stop counting against their
    phone's queue; the workers drop their messages. A send already under way finishes.
    """
    reason = EndReason.STOPPED_BY_OPERATOR
    queued = E.c.step_state == StepState.QUEUED
    with database.engine.begin() as connection:
        previous = _state(connection, sequence)
        _set_state(connection, sequence, CampaignState.STOPPED, now)
        ended = connection.execute(
            update(E)
            .where(E.c.sequence == sequence, E.c.state.in_(_RUNNING))
            .values(
                state=end_state(reason),
                end_reason=reason,
                ended_at=now,
                updated_at=now,
                step_state=case((queued, StepState.DUE), else_=E.c.step_state),
                queued_at=case((queued, null()), else_=E.c.queued_at),
            )
        ).rowcount
    return CampaignChange(sequence, previous, CampaignState.STOPPED, int(ended))


def complete_finished(connection: Connection, now: datetime) -> list[str]:
    """Mark ``completed`` every active campaign whose enrollments have all ended.

    A campaign with no enrollment at all (every lead refused) stays active. Launching
    again makes a completed campaign active. Returns the campaigns it completed.

    The candidates' rows are locked first, then checked again in a statement of its
    own: a launch holds its campaign's row from before it inserts enrollments until it
    commits, so the check (a fresh snapshot on PostgreSQL) sees what it enrolled.
    """
    has_any = exists().where(E.c.sequence == C.c.sequence)
    running = exists().where(E.c.sequence == C.c.sequence, E.c.state.in_(_RUNNING))
    finished = (C.c.state == CampaignState.ACTIVE, has_any, ~running)
    candidates = list(
        connection.execute(select(C.c.sequence).where(*finished).with_for_update(of=C)).scalars()
    )
    if not candidates:
        return []
    rows = connection.execute(
        update(C)
        .where(C.c.sequence.in_(candidates), *finished)
        .values(state=CampaignState.COMPLETED, updated_at=now)
        .returning(C.c.sequence)
    ).all()
    return sorted(str(row[0]) for row in rows)


def _state(connection: Connection, sequence: str) -> str:
    state = connection.execute(select(C.c.state).where(C.c.sequence == sequence)).scalar()
    if state is None:
        raise CampaignError(
            f"no campaign {sequence!r}; start one with `outreach campaign launch {sequence}`"
        )
    return str(state)


def _set_state(connection: Connection, sequence: str, state: str, now: datetime) -> None:
    connection.execute(
        update(C).where(C.c.sequence == sequence).values(state=state, updated_at=now)
    )
