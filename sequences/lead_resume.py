"""Resuming a lead's paused sequences: a person read the reply of a colleague at the
lead's company and lets the lead's sequences go on.

A colleague's reply holds the lead's running enrollment ``paused`` (reason
``company_replied``, :mod:`engine.storage.colleagues`). Resuming it moves it back,
through the journey (:func:`sequences.journey.unpause`), to the running state it had:
``pending`` if nothing was sent yet, else ``active``, its reason cleared. Its step is
due at once, or at the step's own due time if that is later (the send path's
:func:`sequences.schedule.next_due` from the previous step's send). A send that was in
flight when the pause came and went out meanwhile was recorded ``sent`` without moving
the journey on (the send path's record requires a running enrollment): the resume
moves it on as that record would have, to the next step (due by the same rule) or to
``completed`` after the last. A step still being sent is left paused until its send is
recorded (a person resumes again), so the resume and the sender's record never race.
A failed step stays failed: it is a dead letter a person retries. Whatever the
campaign's state, the enrollment runs again; a paused campaign still holds it.

:func:`resumption` decides, from the row and ``now``; :func:`resume_lead` reads, locks
and writes, for the CLI (``outreach leads resume``) and the console alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, and_, select, update

from engine.db import Database
from engine.states import EnrollmentState, StepState
from engine.tables import C, E, L, M, running
from sequences.closed_days import closed_days
from sequences.definition import Sequence
from sequences.errors import SequencesError
from sequences.journey import EndReason, after_send, transition, unpause
from sequences.schedule import next_due
from sequences.windows import lead_timezone

__all__ = ["Paused", "Resumed", "Resumption", "resume_lead", "resumption"]

_PAUSED: Final = EnrollmentState.PAUSED.value


@dataclass(frozen=True)
class Paused:
    """A paused enrollment as the resume reads it: its step, the lead's number, zone and
    region (its send window and closed days), and the sends of its current step (made
    while it was paused) and of the step before (when the current one is due after it)."""

    enrollment_id: int
    sequence: str
    step: int
    step_state: str
    due_at: datetime | None
    lead_phone: str
    lead_timezone: str | None
    lead_region: str | None
    sent_at: datetime | None = None
    sent_chat_id: int | None = None
    previous_sent_at: datetime | None = None


@dataclass(frozen=True)
class Resumption:
    """What the resume does to one paused enrollment: the values written (``None``: it
    stays paused, ``note`` says why) and a note for the person."""

    values: dict[str, Any] | None
    note: str


@dataclass(frozen=True)
class Resumed:
    """One paused enrollment of the lead, and what the resume did to it."""

    enrollment_id: int
    sequence: str
    campaign: str | None
    state: str
    step: int
    due_at: datetime | None
    note: str

    @property
    def resumed(self) -> bool:
        return self.state != _PAUSED

    def as_dict(self) -> dict[str, Any]:
        return {
            "enrollment_id": self.enrollment_id, "sequence": self.sequence,
            "campaign": self.campaign, "state": self.state, "step": self.step,
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "resumed": self.resumed, "note": self.note,
        }  # fmt: skip


def resumption(
    paused: Paused, sequence: Sequence | None, *, fallback_zone: str, now: datetime
) -> Resumption:
    """What resuming ``paused`` at ``now`` writes; ``sequence`` is its compiled sequence
    (``None``: no longer in the config), ``fallback_zone`` the zone of a lead whose own
    is unknown (the quota's, as the send path reads it)."""
    if paused.step_state == StepState.SENDING:
        return Resumption(
            None, f"step {paused.step + 1} is being sent: resume again once it is recorded"
        )
    if paused.step_state == StepState.SENT:
        return _after_send(paused, sequence, fallback_zone, now)
    state = unpause(_PAUSED, sent=paused.step > 0)
    values: dict[str, Any] = {"state": state, "end_reason": None, "updated_at": now}
    if paused.step_state == StepState.FAILED:
        return Resumption(values, f"step {paused.step + 1} failed: retry it (`outreach dlq`)")
    due = paused.due_at
    if sequence is not None and paused.step > 0 and paused.previous_sent_at is not None:
        due = _next_due(paused, sequence, paused.step, paused.previous_sent_at, fallback_zone)
    values.update(step_state=StepState.DUE, due_at=_later(due, now), queued_at=None)
    if paused.step == 0:
        values["phone_id"] = None  # a first message may go out from any phone, as after a pause
    return Resumption(values, f"step {paused.step + 1} due")


def _after_send(
    paused: Paused, sequence: Sequence | None, fallback_zone: str, now: datetime
) -> Resumption:
    """The step went out while the enrollment was paused: move on as the send's record
    would have (:data:`engine.storage.statements.ADVANCE` / ``COMPLETE``)."""
    if sequence is None:
        return Resumption(None, f"sequence {paused.sequence!r} is not in the config")
    sent_at = paused.sent_at or now
    last = paused.step + 1 >= len(sequence.steps)
    state = transition(unpause(_PAUSED, sent=True), after_send(last_step=last))
    values: dict[str, Any] = {"state": state, "updated_at": now, "last_error": None}
    if last:
        values.update(end_reason=EndReason.SEQUENCE_COMPLETED.value, ended_at=sent_at)
        return Resumption(values, f"step {paused.step + 1} was sent while paused: completed")
    due = _next_due(paused, sequence, paused.step + 1, sent_at, fallback_zone)
    values.update(
        end_reason=None, step=paused.step + 1, step_state=StepState.DUE, due_at=_later(due, now),
        queued_at=None, sending_at=None, attempts=0,
    )  # fmt: skip
    if paused.sent_chat_id is not None:
        values["chat_id"] = paused.sent_chat_id
    return Resumption(
        values, f"step {paused.step + 1} was sent while paused: step {paused.step + 2} due"
    )


def _next_due(
    paused: Paused, sequence: Sequence, step: int, previous_sent_at: datetime, fallback: str
) -> datetime:
    zone = lead_timezone(sequence.timezone, paused.lead_timezone, paused.lead_phone, fallback)
    closed = closed_days(sequence, paused.lead_region, paused.lead_phone)
    due: datetime = next_due(sequence, step, zone, previous_sent_at, closed)
    return due


def _later(due: datetime | None, now: datetime) -> datetime:
    return now if due is None or due < now else due


def resume_lead(
    database: Database, phone: str, *, sequences: Mapping[str, Sequence], fallback_zone: str,
    now: datetime,
) -> list[Resumed]:  # fmt: skip
    """Resume every paused enrollment of the lead ``phone`` (E.164); what each became
    (empty: nothing of it was paused). Raises :class:`SequencesError` when there is no
    such lead."""
    with database.engine.begin() as connection:
        lead_id = connection.execute(select(L.c.id).where(L.c.phone == phone)).scalar()
        if lead_id is None:
            raise SequencesError(f"no lead {phone}; see `outreach leads list`")
        rows = _paused_rows(connection, int(lead_id))
        if (
            rows
            and connection.execute(select(E.c.id).where(E.c.lead_id == lead_id, running())).first()
        ):
            raise SequencesError(
                f"the lead {phone} already runs a sequence; stop it before resuming another"
            )
        results = []
        for row in rows:
            paused = _paused_of(connection, row)
            decided = resumption(
                paused, sequences.get(paused.sequence), fallback_zone=fallback_zone, now=now
            )
            if decided.values is not None:
                connection.execute(
                    update(E)
                    .where(
                        E.c.id == paused.enrollment_id,
                        E.c.state == _PAUSED,
                        E.c.step == paused.step,
                        E.c.step_state == paused.step_state,
                    )
                    .values(decided.values)
                )
            values = decided.values or {}
            results.append(
                Resumed(
                    paused.enrollment_id, paused.sequence, row.campaign,
                    values.get("state", _PAUSED), values.get("step", paused.step),
                    values.get("due_at", paused.due_at), decided.note,
                )
            )  # fmt: skip
    return results


def _paused_rows(connection: Connection, lead_id: int) -> list[Any]:
    """The lead's paused enrollments, locked (a reply or a stop waits for the resume)."""
    return list(
        connection.execute(
            select(
                E.c.id, E.c.sequence, E.c.step, E.c.step_state, E.c.due_at, L.c.phone,
                L.c.timezone, L.c.region, C.c.name.label("campaign"),
            )
            .select_from(E.join(L, L.c.id == E.c.lead_id).outerjoin(C, C.c.id == E.c.campaign_id))
            .where(E.c.lead_id == lead_id, E.c.state == _PAUSED)
            .order_by(E.c.id)
            .with_for_update(of=E)
        ).all()
    )  # fmt: skip


def _paused_of(connection: Connection, row: Any) -> Paused:
    """The row with the sends the resume needs: the current step's (if it went out while
    paused) and the previous step's."""
    sent = connection.execute(
        select(M.c.step, M.c.sent_at, M.c.chat_id).where(
            and_(
                M.c.enrollment_id == row.id,
                M.c.direction == "out",
                M.c.step.in_([row.step - 1, row.step]),
            )
        )
    ).all()
    by_step = {int(s.step): s for s in sent}
    current, previous = by_step.get(int(row.step)), by_step.get(int(row.step) - 1)
    return Paused(
        int(row.id), str(row.sequence), int(row.step), str(row.step_state), row.due_at,
        str(row.phone), row.timezone, row.region,
        current.sent_at if current is not None else None,
        current.chat_id if current is not None else None,
        previous.sent_at if previous is not None else None,
    )  # fmt: skip
