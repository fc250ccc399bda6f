"""Campaigns: pausing, resuming or stopping one, and the moves the dispatcher makes.

Launching, which enrolls leads, is :mod:`sequences.launch`; saving a draft and reading
a campaign's record is :mod:`sequences.campaign_store`; which move is allowed is
:mod:`sequences.campaign_states`. Pause, resume and stop change the campaign row that
the dispatcher and the sender read (by the enrollment's campaign) before every move: a
paused campaign's steps stay in the database (those already queued are taken back), a
resumed one carries on where it was, a stopped one ends every running enrollment
``stopped``. The dispatcher starts a ``scheduled`` campaign once its start has come
and completes an ``active`` one whose enrollments have all ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, case, exists, null, select, update

from engine.db import Database
from engine.states import CampaignState, EnrollmentState, StepState
from engine.tables import C, E
from sequences.campaign_states import Action, next_state
from sequences.errors import CampaignError
from sequences.journey import RUNNING_STATES, EndReason, end_state

__all__ = [
    "CampaignChange",
    "CampaignError",
    "complete_finished",
    "pause",
    "resume",
    "start_scheduled",
    "stop",
]

_RUNNING = sorted(RUNNING_STATES)
# A stop ends the enrollments a colleague's reply paused too: they would never go on.
_STOPPABLE = [*_RUNNING, EnrollmentState.PAUSED.value]


@dataclass(frozen=True)
class CampaignChange:
    """A campaign's state before and after, and how many enrollments the change moved.

    ``enrollments`` counts steps taken back from the queues (pause) or enrollments
    ended (stop); 0 for resume and for a change that was already in place.
    """

    name: str
    previous: str
    state: str
    enrollments: int = 0

    @property
    def changed(self) -> bool:
        return self.previous != self.state


def pause(database: Database, name: str, *, now: datetime) -> CampaignChange:
    """Hold every send of the campaign not yet started; queued steps go back to ``due``.

    A first message taken back loses its phone, so after a resume it may go out from
    any phone (of the campaign's). A send already under way finishes.
    """
    with database.engine.begin() as connection:
        campaign_id, previous, state = _move(connection, name, Action.PAUSE, now)
        held = connection.execute(
            update(E)
            .where(
                E.c.campaign_id == campaign_id,
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
    return CampaignChange(name, previous, state, int(held))


def resume(database: Database, name: str, *, now: datetime) -> CampaignChange:
    """Let a paused campaign send again (``scheduled`` if its start is still ahead); the
    dispatcher carries on where it stopped."""
    with database.engine.begin() as connection:
        _, previous, state = _move(connection, name, Action.RESUME, now)
    return CampaignChange(name, previous, state)


def stop(database: Database, name: str, *, now: datetime) -> CampaignChange:
    """End every running (or paused) enrollment of the campaign ``stopped``
    (``stopped_by_operator``).

    Steps in a queue are marked back ``due`` so they stop counting against their
    phone's queue; the workers drop their messages. A send already under way finishes.
    """
    reason = EndReason.STOPPED_BY_OPERATOR
    queued = E.c.step_state == StepState.QUEUED
    with database.engine.begin() as connection:
        campaign_id, previous, state = _move(connection, name, Action.STOP, now)
        ended = connection.execute(
            update(E)
            .where(E.c.campaign_id == campaign_id, E.c.state.in_(_STOPPABLE))
            .values(
                state=end_state(reason),
                end_reason=reason,
                ended_at=now,
                updated_at=now,
                step_state=case((queued, StepState.DUE), else_=E.c.step_state),
                queued_at=case((queued, null()), else_=E.c.queued_at),
            )
        ).rowcount
    return CampaignChange(name, previous, state, int(ended))


def start_scheduled(connection: Connection, now: datetime) -> list[str]:
    """Make ``active`` every scheduled campaign whose start has come; their names."""
    active = next_state(CampaignState.SCHEDULED, Action.START, now=now)
    rows = connection.execute(
        update(C)
        .where(C.c.state == CampaignState.SCHEDULED, C.c.starts_at <= now)
        .values(state=active, updated_at=now)
        .returning(C.c.name)
    ).all()
    return sorted(str(row[0]) for row in rows)


def complete_finished(connection: Connection, now: datetime) -> list[str]:
    """Mark ``completed`` every active campaign whose enrollments have all ended (a
    paused one has not: it may be resumed).

    A campaign with no enrollment at all (every lead refused) stays active. Launching
    again makes a completed campaign active. Returns the campaigns it completed.

    The candidates' rows are locked first, then checked again in a statement of its
    own: a launch holds its campaign's row from before it inserts enrollments until it
    commits, so the check (a fresh snapshot on PostgreSQL) sees what it enrolled.
    """
    completed = next_state(CampaignState.ACTIVE, Action.COMPLETE, now=now)
    has_any = exists().where(E.c.campaign_id == C.c.id)
    # A paused enrollment (a colleague replied) has not ended: a person may resume it.
    running = exists().where(E.c.campaign_id == C.c.id, E.c.state.in_(_STOPPABLE))
    finished = (C.c.state == CampaignState.ACTIVE, has_any, ~running)
    candidates = list(
        connection.execute(select(C.c.id).where(*finished).with_for_update(of=C)).scalars()
    )
    if not candidates:
        return []
    rows = connection.execute(
        update(C)
        .where(C.c.id.in_(candidates), *finished)
        .values(state=completed, updated_at=now)
        .returning(C.c.name)
    ).all()
    return sorted(str(row[0]) for row in rows)


def _move(connection: Connection, name: str, action: Action, now: datetime) -> tuple[int, str, str]:
    """Lock the campaign ``name``, move it by ``action``: its id, previous and new state."""
    row = connection.execute(
        select(C.c.id, C.c.state, C.c.starts_at).where(C.c.name == name).with_for_update()
    ).first()
    if row is None:
        next_state(None, action, now=now, name=name)  # raises, saying what to do
        raise CampaignError(f"no campaign {name!r}")
    previous = str(row.state)
    state = next_state(previous, action, now=now, starts_at=row.starts_at, name=name)
    if state != previous:
        connection.execute(update(C).where(C.c.id == row.id).values(state=state, updated_at=now))
    return int(row.id), previous, state
