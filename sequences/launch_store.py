"""The set-based statements of a campaign launch: candidates with their refusal, bulk enrollment.

One query reads the selected leads, each with the first reason (if any) it may not be
enrolled, computed in the database with ``IN (subquery)`` tests that both databases
evaluate once per query, not once per lead. Enrollments are then written in batches:
on PostgreSQL as two arrays ``unnest``-ed by one ``INSERT ... SELECT`` per batch, on
SQLite (in process, where a round trip is cheap) as an ``executemany``. Both skip rows
the unique indexes refuse (a launch running at the same time), and the count written
is what the caller reports.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Connection, Select, bindparam, case, literal, select, text
from sqlalchemy.dialects import sqlite

from engine.dbtypes import UTCDateTime
from engine.states import (
    RUNNING_STATES,
    Direction,
    EnrollmentState,
    StepState,
)
from engine.tables import E, L, M, S, T

__all__ = [
    "BATCH_SIZE",
    "Candidate",
    "Refusal",
    "candidates",
    "insert_enrollments",
    "lead_ids_for_phones",
]

BATCH_SIZE: Final = 5_000
"""Leads read per fetch and enrollments written per statement."""


# A paused enrollment (a colleague at the lead's company replied) holds its lead too:
# enrolling it elsewhere would write to the company the pause keeps quiet.
_RUNNING: Final = (*sorted(RUNNING_STATES), EnrollmentState.PAUSED.value)
_ANSWERED: Final = (EnrollmentState.REPLIED.value, EnrollmentState.OPTED_OUT.value)


class Refusal(StrEnum):
    """Why a selected lead is not enrolled, in the order the reasons are checked."""

    SUPPRESSED = "suppressed"
    """The number is on the do-not-contact list."""
    ANSWERED_BEFORE = "answered_before"
    """The lead replied to or opted out of an earlier campaign (or wrote to us)."""
    ALREADY_ENROLLED = "already_enrolled"
    """The lead is, or was, in this campaign already."""
    ACTIVE_ELSEWHERE = "active_elsewhere"
    """The lead is running through another campaign (a lead is in at most one)."""
    SEQUENCE_BEFORE = "sequence_before"
    """The lead went through this sequence in another campaign (it would get it twice)."""
    MISSING_VARIABLES = "missing_variables"
    """The lead lacks a variable a step needs (checked in Python, not here)."""

    @property
    def label(self) -> str:
        """The reason as a person reads it: ``refused: <label>``."""
        return _LABELS[self]


_LABELS: Final = {
    Refusal.SUPPRESSED: "suppressed number",
    Refusal.ANSWERED_BEFORE: "replied to or opted out of an earlier campaign",
    Refusal.ALREADY_ENROLLED: "already in this campaign",
    Refusal.ACTIVE_ELSEWHERE: "running in another campaign",
    Refusal.SEQUENCE_BEFORE: "had this sequence in another campaign",
    Refusal.MISSING_VARIABLES: "missing a template variable",
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A selected lead: what its first due time and variable check need, and its refusal."""

    lead_id: int
    phone: str
    timezone: str | None
    variables: dict[str, str] | None
    refusal: Refusal | None
    region: str | None = None
    """The lead's country as imported (its public holidays close its send window)."""


def _refusal(sequence: str, campaign_id: int | None) -> Any:
    e, m = E.c, M.c
    answered = select(e.lead_id).where(e.state.in_(_ANSWERED))
    wrote_in = select(m.lead_id).where(m.direction == Direction.IN, m.lead_id.is_not(None))
    # A campaign not saved yet has no enrollment: no id matches -1.
    this_campaign = select(e.lead_id).where(e.campaign_id == (campaign_id or -1))
    running = select(e.lead_id).where(e.state.in_(_RUNNING))
    this_sequence = select(e.lead_id).where(e.sequence == sequence)
    lead = L.c
    return case(
        (lead.phone.in_(select(S.c.phone)), Refusal.SUPPRESSED.value),
        (lead.id.in_(answered), Refusal.ANSWERED_BEFORE.value),
        (lead.id.in_(wrote_in), Refusal.ANSWERED_BEFORE.value),
        (lead.id.in_(this_campaign), Refusal.ALREADY_ENROLLED.value),
        (lead.id.in_(running), Refusal.ACTIVE_ELSEWHERE.value),
        (lead.id.in_(this_sequence), Refusal.SEQUENCE_BEFORE.value),
        else_=None,
    ).label("refusal")


def _query(sequence: str, campaign_id: int | None, with_variables: bool) -> Select[Any]:
    lead = L.c
    variables = lead.variables if with_variables else literal(None).label("variables")
    return select(
        lead.id, lead.phone, lead.timezone, variables, _refusal(sequence, campaign_id),
        lead.region,
    )  # fmt: skip


def candidates(
    connection: Connection,
    sequence: str,
    *,
    campaign_id: int | None = None,
    tag: str | None = None,
    lead_ids: Sequence[int] | None = None,
    with_variables: bool,
) -> Iterator[Candidate]:
    """The leads tagged ``tag``, or those in ``lead_ids`` (in that order), or all, oldest
    first, each with its refusal for campaign ``campaign_id`` (``None``: a new one).

    ``with_variables`` reads each lead's variables (only needed when the sequence has
    required ones). Rows are streamed, so memory stays flat however many leads match.
    """
    if lead_ids is not None:
        for start in range(0, len(lead_ids), BATCH_SIZE):
            chunk = lead_ids[start : start + BATCH_SIZE]
            query = _query(sequence, campaign_id, with_variables).where(L.c.id.in_(chunk))
            found = {row.id: row for row in connection.execute(query)}
            yield from (_candidate(found[i]) for i in chunk if i in found)
        return
    query = _query(sequence, campaign_id, with_variables).order_by(L.c.id)
    if tag is not None:
        query = query.where(L.c.id.in_(select(T.c.lead_id).where(T.c.tag == tag)))
    streamed = connection.execute(query, execution_options={"yield_per": BATCH_SIZE})
    yield from (_candidate(row) for row in streamed)


def _candidate(row: Any) -> Candidate:
    refusal = None if row.refusal is None else Refusal(row.refusal)
    return Candidate(row.id, row.phone, row.timezone, row.variables, refusal, row.region)


def lead_ids_for_phones(connection: Connection, phones: Sequence[str]) -> list[int]:
    """The ids of the leads with these numbers, in the order of ``phones``; unknown ones skipped."""
    ids: dict[str, int] = {}
    for start in range(0, len(phones), BATCH_SIZE):
        chunk = phones[start : start + BATCH_SIZE]
        query = select(L.c.phone, L.c.id).where(L.c.phone.in_(chunk))
        ids.update((phone, lead_id) for phone, lead_id in connection.execute(query))
    return [ids[phone] for phone in phones if phone in ids]


_PG_INSERT: Final = text(
    "INSERT INTO enrollments (lead_id, campaign_id, sequence, state, step, step_state, due_at, "
    "attempts, created_at, updated_at) "
    "SELECT t.lead_id, :campaign_id, :sequence, :state, 0, :step_state, t.due_at, 0, :now, :now "
    "FROM unnest(CAST(:lead_ids AS integer[]), CAST(:due_ats AS timestamptz[])) "
    "AS t(lead_id, due_at) ON CONFLICT DO NOTHING"
).bindparams(bindparam("now", type_=UTCDateTime))


_SQLITE_INSERT: Final = sqlite.insert(E).on_conflict_do_nothing()


def insert_enrollments(
    connection: Connection, campaign_id: int, sequence: str,
    rows: Sequence[tuple[int, datetime]], now: datetime,
) -> int:  # fmt: skip
    """Enroll ``(lead id, first due time)`` pairs in the campaign at step 0 of its
    ``sequence``; returns how many were written.

    A lead the unique indexes refuse (enrolled in this or another campaign by a launch
    running at the same time) is skipped, not an error.
    """
    written = 0
    for start in range(0, len(rows), BATCH_SIZE):
        batch = rows[start : start + BATCH_SIZE]
        if connection.dialect.name == "postgresql":
            result = connection.execute(
                _PG_INSERT,
                {
                    "campaign_id": campaign_id,
                    "sequence": sequence,
                    "state": EnrollmentState.PENDING.value,
                    "step_state": StepState.DUE.value,
                    "now": now,
                    "lead_ids": [lead_id for lead_id, _ in batch],
                    "due_ats": [due for _, due in batch],
                },
            )
        else:
            values = [
                {
                    "lead_id": lead_id, "campaign_id": campaign_id, "sequence": sequence,
                    "state": EnrollmentState.PENDING,
                    "step": 0, "step_state": StepState.DUE, "due_at": due, "attempts": 0,
                    "created_at": now, "updated_at": now,
                }
                for lead_id, due in batch
            ]  # fmt: skip
            result = connection.execute(_SQLITE_INSERT, values)
        written += int(result.rowcount)
    return written
