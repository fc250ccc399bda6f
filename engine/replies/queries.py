"""What ``outreach replies review`` and ``outreach replies unmatched`` show, and resolving."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from engine.models import Direction, ReviewFlag
from engine.sending.store import E, L
from engine.webhook.store import M

R = ReviewFlag.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ReviewItem:
    """One review flag with its reply."""

    id: int
    priority: int
    created_at: datetime
    resolved_at: datetime | None
    lead_id: int | None
    lead_phone: str | None
    sequence: str | None
    label: str | None
    matched: dict[str, Any]
    text: str


def review_items(
    connection: Connection, *, include_resolved: bool = False, limit: int = 200
) -> list[ReviewItem]:
    """Review flags, open ones only unless asked, most urgent and then oldest first."""
    query = (
        select(
            R.c.id, R.c.priority, R.c.created_at, R.c.resolved_at, R.c.lead_id,
            func.coalesce(L.c.phone, M.c.peer_phone), E.c.sequence, M.c.intent, R.c.reasons,
            M.c.text,
        )
        .select_from(
            R.join(M, M.c.id == R.c.message_id)
            .outerjoin(L, L.c.id == R.c.lead_id)
            .outerjoin(E, E.c.id == R.c.enrollment_id)
        )
        .order_by(R.c.priority.desc(), R.c.created_at, R.c.id)
        .limit(limit)
    )  # fmt: skip
    if not include_resolved:
        query = query.where(R.c.resolved_at.is_(None))
    return [
        ReviewItem(
            id=row[0],
            priority=row[1],
            created_at=row[2],
            resolved_at=row[3],
            lead_id=row[4],
            lead_phone=row[5],
            sequence=row[6],
            label=row[7],
            matched=dict((row[8] or {}).get("matched", {})),
            text=row[9] or "",
        )
        for row in connection.execute(query)
    ]


def resolve_flags(connection: Connection, flag_ids: Sequence[int], now: datetime) -> int:
    """Mark review flags handled; how many were open."""
    result = connection.execute(
        update(R)
        .where(R.c.id.in_(list(flag_ids)), R.c.resolved_at.is_(None))
        .values(resolved_at=now)
    )
    return int(result.rowcount)


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
