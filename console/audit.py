"""What people did in the console, and who: one row per action, refused ones included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from engine.tables import CA

__all__ = ["ActionRow", "recent", "record"]


@dataclass(frozen=True)
class ActionRow:
    at: datetime
    user: str
    action: str
    target: str | None
    detail: str | None


def record(
    connection: Connection, now: datetime, user: str, action: str,
    *, target: str | None = None, detail: str | None = None,
) -> None:  # fmt: skip
    """Remember that ``user`` did ``action`` (to ``target``) at ``now``."""
    connection.execute(
        insert(CA).values(at=now, user=user, action=action, target=target, detail=detail)
    )


def recent(connection: Connection, *, limit: int = 50, user: str | None = None) -> list[ActionRow]:
    """The latest actions, newest first."""
    query = select(CA.c.at, CA.c.user, CA.c.action, CA.c.target, CA.c.detail)
    if user is not None:
        query = query.where(CA.c.user == user)
    rows = connection.execute(query.order_by(CA.c.id.desc()).limit(limit))
    return [ActionRow(r.at, r.user, r.action, r.target, r.detail) for r in rows]
