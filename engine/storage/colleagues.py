"""A reply's colleagues: the running sequences of the other leads at the replying
lead's company, paused or stopped in the reply's own transaction.

Leads share a company when their ``leads.company_key`` is equal
(:func:`engine.company_keys.company_key`); a reply from one holds the others'
sequences as each says (``on_company_reply``): ``pause`` moves a running enrollment to
``paused``, ``stop`` ends it ``stopped``, both with the reason ``company_replied``;
``continue`` leaves it. Either way the enrollment stops running in the reply's
transaction, so the send path's claim (which re-checks the enrollment's state in its
row) claims none of its steps after the reply commits; a step queued for a worker goes
back to ``due`` so it stops holding a place in its phone's queue. A step already being
sent finishes. The PostgreSQL reply store does the same inside its one statement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import Connection, and_, case, null, select, update

from engine.states import EnrollmentState, StepState
from engine.tables import E, L, running
from sequences.journey import EndReason, end_state, hold

__all__ = ["HELD_LISTED", "PAUSED", "held_colleagues", "hold_colleagues"]

_REASON = EndReason.COMPANY_REPLIED
PAUSED: Final = hold(EnrollmentState.ACTIVE.value)
"""Where a running enrollment goes when a colleague replies (the journey's move)."""

HELD_LISTED: Final = 20
"""A review flag lists at most this many held colleagues (a big company has more)."""


def hold_colleagues(
    connection: Connection, lead_id: int, *, stop: frozenset[str], keep: frozenset[str],
    now: datetime,
) -> int:  # fmt: skip
    """Pause (or, for a sequence in ``stop``, end) the running enrollments of the other
    leads at ``lead_id``'s company, leaving those of sequences in ``keep``; how many
    changed. A lead without a company key has no colleagues."""
    key = connection.execute(select(L.c.company_key).where(L.c.id == lead_id)).scalar()
    if key is None:
        return 0
    colleagues = select(L.c.id).where(L.c.company_key == key, L.c.id != lead_id)
    queued = E.c.step_state == StepState.QUEUED
    base = and_(E.c.lead_id.in_(colleagues), running(), E.c.sequence.not_in(sorted(keep)))
    common = {
        "end_reason": _REASON.value, "updated_at": now,
        "step_state": case((queued, StepState.DUE), else_=E.c.step_state),
        "queued_at": case((queued, null()), else_=E.c.queued_at),
    }  # fmt: skip
    stopped = connection.execute(
        update(E)
        .where(base, E.c.sequence.in_(sorted(stop)))
        .values(state=end_state(_REASON), ended_at=now, **common)
    ).rowcount
    paused = connection.execute(
        update(E).where(base, E.c.sequence.not_in(sorted(stop))).values(state=PAUSED, **common)
    ).rowcount
    return int(stopped) + int(paused)


def held_colleagues(connection: Connection, lead_id: int) -> list[dict[str, Any]]:
    """The colleagues of ``lead_id`` whose sequences a reply at their company paused or
    stopped (at most :data:`HELD_LISTED`, by lead id): lead id, number, sequence, state;
    what a review flag says about who was held."""
    key = connection.execute(select(L.c.company_key).where(L.c.id == lead_id)).scalar()
    if key is None:
        return []
    rows = connection.execute(
        select(L.c.id, L.c.phone, E.c.sequence, E.c.state)
        .select_from(E.join(L, L.c.id == E.c.lead_id))
        .where(L.c.company_key == key, L.c.id != lead_id, E.c.end_reason == _REASON.value)
        .order_by(L.c.id, E.c.id)
        .limit(HELD_LISTED)
    )
    return [
        {"lead_id": row.id, "phone": row.phone, "sequence": row.sequence, "state": row.state}
        for row in rows
    ]
