"""Dead letters: steps whose send failed for good, where a person can see and retry them.

A step lands here (``step_state = 'failed'``) after its retries are used up or on a
permanent error such as a too-large attachment. The database is the record, so
nothing is lost if Redis is; ``retry`` makes the step due again and it goes out
through the same invariants as any other send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, func, select, update

from engine.errors import OutreachError
from engine.states import StepState
from engine.tables import E, L, running


@dataclass(frozen=True)
class DeadLetter:
    """One failed step."""

    enrollment_id: int
    sequence: str
    step: int
    """The step's index (0 is the first message); people read it from 1."""
    lead_phone: str
    phone_id: str | None
    attempts: int
    error: str | None
    failed_at: datetime


def _dead() -> list[ColumnElement[bool]]:
    """A dead letter: a failed step of a running enrollment."""
    return [E.c.step_state == StepState.FAILED, running()]


def count_dead_letters(connection: Connection) -> int:
    """How many failed steps wait for a person (what ``outreach dlq list`` shows)."""
    return int(connection.execute(select(func.count()).select_from(E).where(*_dead())).scalar_one())


def list_dead_letters(connection: Connection, *, limit: int = 200) -> list[DeadLetter]:
    """Failed steps of running enrollments, newest first."""
    rows = connection.execute(
        select(
            E.c.id, E.c.sequence, E.c.step, L.c.phone, E.c.phone_id, E.c.attempts,
            E.c.last_error, E.c.updated_at,
        )
        .select_from(E.join(L, L.c.id == E.c.lead_id))
        .where(*_dead())
        .order_by(E.c.updated_at.desc(), E.c.id)
        .limit(limit)
    ).all()  # fmt: skip
    return [DeadLetter(*row) for row in rows]


def retry_dead_letters(connection: Connection, now: datetime, ids: list[int] | None = None) -> int:
    """Make failed steps due again (all of them when ``ids`` is ``None``); returns how many.

    Raises :class:`OutreachError` and changes nothing when an id in ``ids`` is not a dead
    letter (a typo must not pass for a retry).
    """
    condition = _dead()
    if ids is not None:
        condition.append(E.c.id.in_(ids))
        found = set(connection.execute(select(E.c.id).where(*condition)).scalars())
        unknown = sorted(set(ids) - found)
        if unknown:
            raise OutreachError(
                f"no dead letter for enrollment {', '.join(map(str, unknown))}; nothing was "
                "retried (`outreach dlq list` shows the ids)"
            )
    result = connection.execute(
        update(E)
        .where(*condition)
        .values(step_state=StepState.DUE, due_at=now, queued_at=None, attempts=0, updated_at=now)
    )
    return int(result.rowcount)
