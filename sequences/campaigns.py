"""Campaigns: enrolling leads in a sequence, and pausing, resuming or stopping its sends.

A launch gives each selected lead one enrollment in the sequence (state ``pending``,
step 0 ``due`` at :func:`~sequences.schedule.first_due` on the lead's clock) and makes
the campaign ``active``. It refuses, and counts by :class:`Refusal`, every lead it
must not write to: suppressed numbers, leads who answered an earlier campaign, leads
already in this sequence or running through another, and leads missing a variable a
step needs. The refusals are computed in the database for all leads at once
(:mod:`sequences.launch_store`); only the variable check and the due time run per lead
in Python, and the due time only once per zone.

Pause, resume and stop change the campaign row that the dispatcher and the sender
read before every move: a paused campaign's steps stay in the database (those already
queued are taken back), a resumed one carries on where it was, a stopped one ends
every running enrollment ``stopped``. An active campaign whose enrollments have all
ended becomes ``completed`` (the dispatcher checks on every pass).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, case, exists, null, select, update

from engine.db import Database
from engine.models import CampaignState, StepState
from engine.tables import C, E
from sequences.definition import Sequence, missing_variables
from sequences.errors import SequencesError
from sequences.journey import RUNNING_STATES, EndReason, end_state
from sequences.launch_store import (
    Candidate,
    Refusal,
    activate_campaign,
    candidates,
    insert_enrollments,
    lead_ids_for_phones,
)
from sequences.lead_list import LeadList
from sequences.schedule import first_due
from sequences.windows import lead_timezone

__all__ = [
    "CampaignChange",
    "CampaignError",
    "LaunchReport",
    "Refusal",
    "complete_finished",
    "launch",
    "pause",
    "resume",
    "stop",
]

_RUNNING = sorted(RUNNING_STATES)


class CampaignError(SequencesError):
    """Raised when a campaign cannot be launched, paused, resumed or stopped as asked."""


@dataclass(frozen=True)
class LaunchReport:
    """What a launch did (or, with ``dry_run``, would do) with each selected lead.

    ``selected == enrolled + sum(refused.values()) + over_limit``; ``not_found`` and
    ``invalid_rows`` count numbers of a lead file that selected nobody.
    """

    sequence: str
    dry_run: bool
    selected: int
    enrolled: int
    refused: Mapping[Refusal, int]
    missing_variables: Mapping[str, int] = field(default_factory=dict)
    """Leads refused for each missing variable (a lead may lack several)."""
    over_limit: int = 0
    not_found: int = 0
    invalid_rows: int = 0
    first_due: datetime | None = None
    """The earliest first message of the leads enrolled."""
    campaign_was: str | None = None
    """The campaign's state before the launch (``None``: there was none)."""


@dataclass
class _Plan:
    rows: list[tuple[int, datetime]] = field(default_factory=list)
    refused: Counter[Refusal] = field(default_factory=Counter)
    missing: Counter[str] = field(default_factory=Counter)
    selected: int = 0
    over_limit: int = 0


def launch(
    database: Database,
    sequence: Sequence,
    *,
    now: datetime,
    fallback_zone: str,
    tag: str | None = None,
    lead_list: LeadList | None = None,
    limit: int | None = None,
    dry_run: bool = False,
) -> LaunchReport:
    """Enroll the leads tagged ``tag``, or those of ``lead_list``, or every lead.

    At most ``limit`` are enrolled (oldest first; file order with a lead list).
    ``fallback_zone`` is the zone of a lead whose own cannot be told (``[quota]
    timezone``). With ``dry_run`` nothing is written. Raises :class:`CampaignError`
    when the selection is empty.
    """
    if tag is not None and lead_list is not None:
        raise CampaignError("choose leads by --tag or by --leads FILE, not both")
    with database.engine.begin() as connection:
        lead_ids, not_found = None, 0
        if lead_list is not None:
            lead_ids = lead_ids_for_phones(connection, lead_list.phones)
            not_found = len(lead_list.phones) - len(lead_ids)
        campaign_was = connection.execute(
            select(C.c.state).where(C.c.sequence == sequence.name)
        ).scalar()
        plan = _plan(
            connection, sequence, now=now, fallback_zone=fallback_zone, tag=tag,
            lead_ids=lead_ids, limit=limit,
        )  # fmt: skip
        if plan.selected == 0:
            raise CampaignError(_nobody(tag, lead_list))
        enrolled = len(plan.rows)
        if not dry_run:
            # The campaign row first: its lock keeps the dispatcher from marking it
            # completed (complete_finished) until these enrollments are committed.
            activate_campaign(connection, sequence.name, now)
            enrolled = insert_enrollments(connection, sequence.name, plan.rows, now)
            # A concurrent launch enrolled the rest first: they are in a sequence already.
            plan.refused[Refusal.ALREADY_ENROLLED] += len(plan.rows) - enrolled
    return LaunchReport(
        sequence=sequence.name,
        dry_run=dry_run,
        selected=plan.selected,
        enrolled=enrolled,
        refused={reason: plan.refused[reason] for reason in Refusal},
        missing_variables=dict(plan.missing.most_common()),
        over_limit=plan.over_limit,
        not_found=not_found,
        invalid_rows=0 if lead_list is None else lead_list.invalid_rows,
        first_due=min((due for _, due in plan.rows), default=None),
        campaign_was=campaign_was,
    )


def _plan(
    connection: Connection,
    sequence: Sequence,
    *,
    now: datetime,
    fallback_zone: str,
    tag: str | None,
    lead_ids: list[int] | None,
    limit: int | None,
) -> _Plan:
    plan = _Plan()
    due_in_zone: dict[str, datetime] = {}

    def due(candidate: Candidate) -> datetime:
        if sequence.window is None:  # no window: the zone cannot move the due time
            zone = fallback_zone
        else:
            zone = lead_timezone(
                sequence.timezone, candidate.timezone, candidate.phone, fallback_zone
            )
        if zone not in due_in_zone:
            due_in_zone[zone] = first_due(sequence, zone, now)
        return due_in_zone[zone]

    required = bool(sequence.required_variables)
    for candidate in candidates(
        connection, sequence.name, tag=tag, lead_ids=lead_ids, with_variables=required
    ):
        plan.selected += 1
        refusal = candidate.refusal
        if refusal is None and required:
            lacking = missing_variables(sequence, candidate.variables or {})
            if lacking:
                refusal = Refusal.MISSING_VARIABLES
                plan.missing.update(lacking)
        if refusal is not None:
            plan.refused[refusal] += 1
        elif limit is not None and len(plan.rows) >= limit:
            plan.over_limit += 1
        else:
            plan.rows.append((candidate.lead_id, due(candidate)))
    return plan


def _nobody(tag: str | None, lead_list: LeadList | None) -> str:
    if tag is not None:
        return (
            f"no lead is tagged {tag!r}; tag leads as you import them: "
            f"`outreach leads import FILE --tag {tag}`"
        )
    if lead_list is not None and not lead_list.phones:
        return f"{lead_list.path} has no valid number ({lead_list.invalid_rows} invalid rows)"
    if lead_list is not None:
        return (
            f"none of the {len(lead_list.phones)} valid numbers in {lead_list.path} is an "
            f"imported lead; import the file first with `outreach leads import {lead_list.path}`"
        )
    return "there are no leads yet; import some with `outreach leads import FILE`"


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
