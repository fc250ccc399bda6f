"""One lead's whole story: ``outreach leads show NUMBER`` (and, later, the console's lead page).

Every message both ways in the order it happened (each with its step, its state and
where it came from: a step of a sequence, the lead's reply, an automatic answer, a
person typing in the shared inbox), every enrollment with its state and end reason,
review flags and automatic answers. Steps are numbered from 1, as people count them.
Read in a handful of queries; nothing here writes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from engine.tables import AR, C, E, L, M, R, S, T
from sequences.leads_query import lead_name

__all__ = ["LeadTimeline", "TimelineEnrollment", "TimelineEntry", "lead_timeline"]


@dataclass(frozen=True)
class TimelineEntry:
    """One message: ``kind`` is ``step``, ``reply``, ``auto_reply`` or ``manual``."""

    at: datetime | None
    direction: str
    kind: str
    step: int | None
    """The step sent (from 1), or for a reply the step it answers."""
    text: str
    status: str
    phone_id: str | None
    enrollment_id: int | None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    intent: str | None = None
    in_flight_step: int | None = None
    """For a reply: a step (from 1) that was being sent when it arrived and went out after."""
    review: str | None = None
    """For a reply with a review flag: ``open``, ``assigned to NAME`` or ``resolved``."""


@dataclass(frozen=True)
class TimelineEnrollment:
    """The lead in one campaign: where it stands or how it ended."""

    id: int
    campaign: str | None
    sequence: str
    campaign_state: str | None
    state: str
    step: int
    step_state: str
    phone_id: str | None
    end_reason: str | None
    created_at: datetime
    ended_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class LeadTimeline:
    """Everything the engine knows about one lead."""

    lead_id: int
    phone: str
    name: str | None
    variables: dict[str, str]
    tags: tuple[str, ...]
    timezone: str | None
    created_at: datetime
    suppressed: str | None
    """Why the number is on the do-not-contact list, or ``None``."""
    enrollments: tuple[TimelineEnrollment, ...]
    messages: tuple[TimelineEntry, ...]
    answers: tuple[dict[str, Any], ...]
    """Automatic answers: rule, state, text, when."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (times in ISO 8601)."""
        found: dict[str, Any] = _jsonable(asdict(self))
        return found


def lead_timeline(connection: Connection, phone: str) -> LeadTimeline | None:
    """The timeline of the lead with number ``phone`` (E.164); ``None`` if there is none."""
    lead = connection.execute(
        select(L.c.id, L.c.phone, L.c.variables, L.c.timezone, L.c.created_at).where(
            L.c.phone == phone
        )
    ).first()
    if lead is None:
        return None
    lead_id = int(lead[0])
    tags = tuple(
        connection.execute(
            select(T.c.tag).where(T.c.lead_id == lead_id).order_by(T.c.tag)
        ).scalars()
    )
    suppressed = connection.execute(select(S.c.reason).where(S.c.phone == phone)).scalar()
    return LeadTimeline(
        lead_id=lead_id, phone=lead[1], name=lead_name(lead[2]), variables=dict(lead[2] or {}),
        tags=tags, timezone=lead[3], created_at=lead[4],
        suppressed=None if suppressed is None else str(suppressed),
        enrollments=_enrollments(connection, lead_id), messages=_messages(connection, lead_id),
        answers=_answers(connection, lead_id),
    )  # fmt: skip


def _enrollments(connection: Connection, lead_id: int) -> tuple[TimelineEnrollment, ...]:
    rows = connection.execute(
        select(
            E.c.id, E.c.sequence, C.c.state, E.c.state, E.c.step, E.c.step_state,
            E.c.phone_id, E.c.end_reason, E.c.created_at, E.c.ended_at, E.c.last_error,
            C.c.name,
        )
        .select_from(E.outerjoin(C, C.c.id == E.c.campaign_id))
        .where(E.c.lead_id == lead_id)
        .order_by(E.c.id)
    )  # fmt: skip
    return tuple(
        TimelineEnrollment(
            id=row[0],
            campaign=row[11],
            sequence=row[1],
            campaign_state=row[2],
            state=row[3],
            step=row[4] + 1,
            step_state=row[5],
            phone_id=row[6],
            end_reason=row[7],
            created_at=row[8],
            ended_at=row[9],
            last_error=row[10],
        )
        for row in rows
    )


def _messages(connection: Connection, lead_id: int) -> tuple[TimelineEntry, ...]:
    review = (
        select(R.c.message_id, R.c.resolved_at, R.c.assigned_to)
        .where(R.c.lead_id == lead_id)
        .subquery()
    )
    rows = connection.execute(
        select(
            func.coalesce(M.c.sent_at, M.c.created_at), M.c.direction, M.c.origin, M.c.step,
            M.c.text, M.c.status, M.c.phone_id, M.c.enrollment_id, M.c.delivered_at, M.c.read_at,
            M.c.failed_at, M.c.intent, M.c.in_flight_step, review.c.message_id,
            review.c.resolved_at, review.c.assigned_to,
        )
        .select_from(M.outerjoin(review, review.c.message_id == M.c.id))
        .where(M.c.lead_id == lead_id)
        .order_by(M.c.id)
    ).all()  # fmt: skip
    entries = [
        TimelineEntry(
            at=row[0],
            direction=row[1],
            kind=_kind(row[1], row[2], row[3]),
            step=None if row[3] is None else row[3] + 1,
            text=row[4] or "",
            status=row[5],
            phone_id=row[6],
            enrollment_id=row[7],
            delivered_at=row[8],
            read_at=row[9],
            failed_at=row[10],
            intent=row[11],
            in_flight_step=None if row[12] is None else row[12] + 1,
            review=_review(row[13], row[14], row[15]),
        )
        for row in rows
    ]
    return tuple(entries)


def _kind(direction: str, origin: str | None, step: int | None) -> str:
    if direction == "in":
        return "reply"
    if origin == "auto_reply":
        return "auto_reply"
    return "step" if step is not None else "manual"


def _review(flag: int | None, resolved_at: datetime | None, assigned_to: str | None) -> str | None:
    if flag is None:
        return None
    if resolved_at is not None:
        return "resolved"
    return f"assigned to {assigned_to}" if assigned_to else "open"


def _answers(connection: Connection, lead_id: int) -> tuple[dict[str, Any], ...]:
    rows = connection.execute(
        select(
            AR.c.rule, AR.c.state, AR.c.text, AR.c.created_at,
            AR.c.sent_at, AR.c.error,
        ).where(AR.c.lead_id == lead_id)
    )  # fmt: skip
    return tuple(
        {
            "rule": r[0],
            "state": r[1],
            "text": r[2],
            "created_at": r[3],
            "sent_at": r[4],
            "error": r[5],
        }
        for r in rows
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value
