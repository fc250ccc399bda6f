"""The alerts table, read back: ``outreach alerts`` and the halt facts of ``outreach status``.

Alerts are written where they happen (:mod:`engine.sending.transitions`, the phone
state changes of :mod:`engine.webhook.store`); this module only reads them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from engine.states import BUDGET_SPENT, DEAD_LETTER, KINDS, TOKEN_REFUSED
from engine.tables import A

__all__ = [
    "BUDGET_SPENT",
    "DEAD_LETTER",
    "KINDS",
    "TOKEN_REFUSED",
    "AlertRecord",
    "AlertSpan",
    "alert_spans",
    "list_alerts",
]


@dataclass(frozen=True)
class AlertSpan:
    """The alerts of one kind in a stretch of time: how many, the first and the last."""

    count: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class AlertRecord:
    """One row of the alerts table."""

    id: int
    created_at: datetime
    kind: str
    severity: str
    phone_id: str | None
    message: str
    details: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        """The row for ``--json``: times as ISO 8601 strings."""
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "kind": self.kind,
            "severity": self.severity,
            "phone_id": self.phone_id,
            "message": self.message,
            "details": self.details,
        }


def list_alerts(
    connection: Connection, *, since: datetime, kinds: Collection[str] = (), limit: int = 200
) -> list[AlertRecord]:
    """Alerts recorded at or after ``since`` (of ``kinds``, if given), newest first."""
    query = select(
        A.c.id, A.c.created_at, A.c.kind, A.c.severity, A.c.phone_id, A.c.message, A.c.details
    ).where(A.c.created_at >= since)
    if kinds:
        query = query.where(A.c.kind.in_(sorted(kinds)))
    rows = connection.execute(query.order_by(A.c.created_at.desc(), A.c.id.desc()).limit(limit))
    return [AlertRecord(*row) for row in rows]


def alert_spans(
    connection: Connection, kinds: Collection[str], *, after: datetime | None
) -> dict[str, AlertSpan]:
    """Per kind, how many alerts came strictly after ``after`` (all, if ``None``), the
    first and the last."""
    query = (
        select(A.c.kind, func.count(), func.min(A.c.created_at), func.max(A.c.created_at))
        .where(A.c.kind.in_(sorted(kinds)))
        .group_by(A.c.kind)
    )
    if after is not None:
        query = query.where(A.c.created_at > after)
    return {
        kind: AlertSpan(int(count), first, last)
        for kind, count, first, last in connection.execute(query)
    }
