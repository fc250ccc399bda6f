"""What ``outreach replies review`` and ``outreach replies unmatched`` show; assigning and
resolving review flags. The CLI and the console read the same functions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, func, select, update

from engine.states import Direction
from engine.tables import C, E, L, M, R
from sequences.leads_query import lead_name


@dataclass(frozen=True)
class ReviewItem:
    """One review flag with its reply, its lead (full number: a person calls it back) and
    where it stands: who has it, whether it is overdue."""

    id: int
    priority: int
    created_at: datetime
    resolved_at: datetime | None
    lead_id: int | None
    lead_phone: str | None
    lead_name: str | None
    campaign: str | None
    label: str | None
    matched: dict[str, Any]
    text: str
    assigned_to: str | None = None
    assigned_at: datetime | None = None
    resolved_by: str | None = None
    reply_id: int | None = None
    company_held: tuple[dict[str, Any], ...] = ()
    """Colleagues (same company) whose sequences the reply paused or stopped."""

    def age(self, now: datetime) -> timedelta:
        """How long the reply has waited (until it was resolved)."""
        return (self.resolved_at or now) - self.created_at

    def overdue(self, now: datetime, sla: timedelta) -> bool:
        """Still open past the review SLA (``[replies] review_sla_h``)."""
        return self.resolved_at is None and self.age(now) > sla

    def as_dict(self, now: datetime, sla: timedelta) -> dict[str, Any]:
        """A JSON-ready view with the age in seconds and the overdue mark."""
        return {
            "id": self.id, "priority": self.priority, "lead_id": self.lead_id,
            "phone": self.lead_phone, "name": self.lead_name, "campaign": self.campaign,
            "intent": self.label, "matched": self.matched, "text": self.text,
            "received_at": self.created_at.isoformat(),
            "age_s": round(self.age(now).total_seconds()), "overdue": self.overdue(now, sla),
            "assigned_to": self.assigned_to,
            "assigned_at": self.assigned_at.isoformat() if self.assigned_at else None,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "resolved_by": self.resolved_by, "reply_id": self.reply_id,
            "company_held": list(self.company_held),
        }  # fmt: skip


def review_items(
    connection: Connection,
    *,
    include_resolved: bool = False,
    assigned_to: str | None = None,
    unassigned: bool = False,
    campaign: str | None = None,
    limit: int = 200,
) -> list[ReviewItem]:
    """Review flags, open ones only unless asked, most urgent and then oldest first; only
    those given to ``assigned_to``, or to nobody (``unassigned``), or of ``campaign``."""
    query = (
        select(
            R.c.id, R.c.priority, R.c.created_at, R.c.resolved_at, R.c.lead_id,
            func.coalesce(L.c.phone, M.c.peer_phone), L.c.variables, C.c.name, M.c.intent,
            R.c.reasons, M.c.text, R.c.assigned_to, R.c.assigned_at, R.c.resolved_by, M.c.id,
        )
        .select_from(
            R.join(M, M.c.id == R.c.message_id)
            .outerjoin(L, L.c.id == R.c.lead_id)
            .outerjoin(E, E.c.id == R.c.enrollment_id)
            .outerjoin(C, C.c.id == E.c.campaign_id)
        )
        .order_by(R.c.priority.desc(), R.c.created_at, R.c.id)
        .limit(limit)
    )  # fmt: skip
    if not include_resolved:
        query = query.where(R.c.resolved_at.is_(None))
    if assigned_to is not None:
        query = query.where(R.c.assigned_to == assigned_to)
    if unassigned:
        query = query.where(R.c.assigned_to.is_(None))
    if campaign is not None:
        query = query.where(C.c.name == campaign)
    return [
        ReviewItem(
            id=row[0],
            priority=row[1],
            created_at=row[2],
            resolved_at=row[3],
            lead_id=row[4],
            lead_phone=row[5],
            lead_name=lead_name(row[6]),
            campaign=row[7],
            label=row[8],
            matched=dict((row[9] or {}).get("matched", {})),
            text=row[10] or "",
            assigned_to=row[11],
            assigned_at=row[12],
            resolved_by=row[13],
            reply_id=row[14],
            company_held=tuple((row[9] or {}).get("company_held", ())),
        )
        for row in connection.execute(query)
    ]


PERSON_MAX_CHARS: Final = 64
"""A review flag's ``assigned_to`` and ``resolved_by`` hold names up to this long."""


def person_name(text: str) -> str | None:
    """``text`` as the name of a person to give a flag to (trimmed), or ``None`` when it
    is empty or longer than :data:`PERSON_MAX_CHARS`."""
    name = text.strip()
    return name if 0 < len(name) <= PERSON_MAX_CHARS else None


def assign_flag(connection: Connection, flag_id: int, person: str, now: datetime) -> bool:
    """Give an open review flag to ``person`` (taking it from whoever had it); ``False``
    when there is no such open flag."""
    result = connection.execute(
        update(R)
        .where(R.c.id == flag_id, R.c.resolved_at.is_(None))
        .values(assigned_to=person, assigned_at=now)
    )
    return int(result.rowcount) == 1


def resolve_flags(
    connection: Connection, flag_ids: Sequence[int], now: datetime, *, by: str | None = None
) -> list[int]:
    """Mark review flags handled (by ``by``, when a person is named); the ids that were
    open and are resolved now, in order."""
    rows = connection.execute(
        update(R)
        .where(R.c.id.in_(list(flag_ids)), R.c.resolved_at.is_(None))
        .values(resolved_at=now, resolved_by=by)
        .returning(R.c.id)
    ).all()
    return sorted(int(row[0]) for row in rows)


@dataclass(frozen=True)
class UnmatchedReply:
    """A reply from a number that matches no lead."""

    id: int
    received_at: datetime | None
    peer_phone: str | None
    phone_id: str | None
    chat_id: int | None
    label: str | None
    text: str


def unmatched_replies(connection: Connection, *, limit: int = 200) -> list[UnmatchedReply]:
    """Replies stored without a lead, newest first."""
    rows = connection.execute(
        select(M.c.id, M.c.sent_at, M.c.peer_phone, M.c.phone_id, M.c.chat_id, M.c.intent, M.c.text)
        .where(M.c.direction == Direction.IN, M.c.lead_id.is_(None))
        .order_by(M.c.id.desc())
        .limit(limit)
    )
    return [UnmatchedReply(*row[:6], text=row[6] or "") for row in rows]
