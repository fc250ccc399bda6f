"""Launching a campaign: enrolling leads in its sequence, refusing those it must not write to.

A launch saves the campaign (its name, sequence and selection) and gives each selected
lead one enrollment in it (state ``pending``, step 0 ``due`` at
:func:`~sequences.schedule.first_due` on the lead's clock, from the campaign's start if
that is later), and makes the campaign ``active``, or ``scheduled`` while its start is
ahead. It refuses, and counts by :class:`Refusal`, every lead it must not write to:
suppressed numbers, leads who answered an earlier campaign, leads already in this
campaign, running through another or that went through this sequence in another
campaign, and leads missing a variable a step needs. The refusals are computed in the
database for all leads at once (:mod:`sequences.launch_store`); only the variable check
and the due time run per lead in Python, and the due time only once per zone and set of
closed days (the public holidays of the lead's country, the skip dates).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, null, update

from engine.db import Database
from engine.states import StepState
from engine.tables import E, running
from sequences.campaign_states import Action, next_state
from sequences.campaign_store import Selection, check_sequence, find_campaign, save
from sequences.closed_days import ClosedDays, closed_days
from sequences.definition import Sequence, missing_variables
from sequences.errors import CampaignError
from sequences.launch_store import (
    Candidate,
    Refusal,
    candidates,
    insert_enrollments,
    lead_ids_for_phones,
)
from sequences.lead_list import LeadList
from sequences.schedule import first_due
from sequences.windows import lead_timezone

__all__ = ["LaunchReport", "Refusal", "launch"]


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
    name: str = ""
    """The campaign's name."""
    state: str | None = None
    """The campaign's state after the launch (``active`` or ``scheduled``)."""
    starts_at: datetime | None = None
    """The campaign's start, when it has one."""


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
    name: str | None = None,
    tag: str | None = None,
    lead_list: LeadList | None = None,
    phone_ids: tuple[str, ...] | None = None,
    starts_at: datetime | None = None,
    limit: int | None = None,
    dry_run: bool = False,
) -> LaunchReport:
    """Launch campaign ``name`` (default: the sequence's name) of ``sequence`` for the
    leads tagged ``tag``, or those of ``lead_list``, or every lead.

    The campaign is saved with this selection: ``phone_ids`` (``None``: every phone) and
    ``starts_at`` (UTC; ``None``: now). At most ``limit`` are enrolled (oldest first;
    file order with a lead list). ``fallback_zone`` is the zone of a lead whose own
    cannot be told (``[quota] timezone``). With ``dry_run`` nothing is written. Raises
    :class:`CampaignError` when the selection is empty, or the campaign runs another
    sequence.
    """
    if tag is not None and lead_list is not None:
        raise CampaignError("choose leads by --tag or by --leads FILE, not both")
    name = name or sequence.name
    selection = Selection(
        tag, None if lead_list is None else str(lead_list.path), phone_ids, starts_at
    )
    with database.engine.begin() as connection:
        lead_ids, not_found = None, 0
        if lead_list is not None:
            lead_ids = lead_ids_for_phones(connection, lead_list.phones)
            not_found = len(lead_list.phones) - len(lead_ids)
        # The campaign row first, locked: the lock keeps the dispatcher from marking it
        # completed (complete_finished) until these enrollments are committed.
        found = find_campaign(connection, name, lock=not dry_run)
        check_sequence(found, name, sequence.name)
        campaign_was = None if found is None else found.state
        state = next_state(campaign_was, Action.LAUNCH, now=now, starts_at=starts_at, name=name)
        since = now if starts_at is None else max(now, starts_at)
        plan = _plan(
            connection, sequence, now=since, fallback_zone=fallback_zone, tag=tag,
            lead_ids=lead_ids, limit=limit, campaign_id=None if found is None else found.id,
        )  # fmt: skip
        if plan.selected == 0:
            raise CampaignError(_nobody(tag, lead_list))
        enrolled = len(plan.rows)
        if not dry_run:
            campaign_id = save(
                connection, name, sequence.name, state=state, selection=selection, now=now
            )
            enrolled = insert_enrollments(connection, campaign_id, sequence.name, plan.rows, now)
            # A concurrent launch enrolled the rest first: they are in a campaign already.
            plan.refused[Refusal.ALREADY_ENROLLED] += len(plan.rows) - enrolled
            if phone_ids is not None:
                _take_back_other_phones(connection, campaign_id, phone_ids, now)
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
        name=name,
        state=state,
        starts_at=starts_at,
    )


def _take_back_other_phones(
    connection: Connection, campaign_id: int, phone_ids: tuple[str, ...], now: datetime
) -> None:
    """First messages queued on a phone the campaign may no longer use wait for another."""
    connection.execute(
        update(E)
        .where(
            E.c.campaign_id == campaign_id,
            running(),
            E.c.step == 0,
            E.c.step_state == StepState.QUEUED,
            E.c.phone_id.not_in(phone_ids),
        )
        .values(step_state=StepState.DUE, queued_at=None, phone_id=null(), updated_at=now)
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
    campaign_id: int | None,
) -> _Plan:
    plan = _Plan()
    # Leads share a handful of (zone, closed days) pairs: one due time for each.
    due_in_zone: dict[tuple[str, ClosedDays], datetime] = {}

    def due(candidate: Candidate) -> datetime:
        closed = closed_days(sequence, candidate.region, candidate.phone)
        if sequence.window is None and not closed:  # the zone cannot move the due time
            zone = fallback_zone
        else:
            zone = lead_timezone(
                sequence.timezone, candidate.timezone, candidate.phone, fallback_zone
            )
        if (zone, closed) not in due_in_zone:
            due_in_zone[zone, closed] = first_due(sequence, zone, now, closed)
        return due_in_zone[zone, closed]

    required = bool(sequence.required_variables)
    for candidate in candidates(
        connection, sequence.name, campaign_id=campaign_id, tag=tag, lead_ids=lead_ids,
        with_variables=required,
    ):  # fmt: skip
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
