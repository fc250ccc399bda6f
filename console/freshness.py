"""Has anything a page shows changed? A version of the data that costs the same at any size.

Open pages ask every few seconds (``?part=live`` with the ETag of what they show); the
answer is 304 unless this version moved. It is the newest id of the tables whose rows
each change of a figure adds (a send, a webhook event, a reply's flag, an alert, a
console action, an enrollment), each read from its primary key's index, plus the
phones' states and the minute, so figures that move without a new row (delivery
statuses polled, a due time passing) refresh at least once a minute.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Connection, func, select

from engine.tables import CA, A, E, M, P, R, W

__all__ = ["data_version", "rows_version"]


def data_version(connection: Connection, now: datetime) -> str:
    """A short string that changes whenever a page's figures may have."""
    return _digest(f"{rows_version(connection)}|{int(now.timestamp() // 60)}")


def rows_version(connection: Connection) -> str:
    """A short string that changes whenever a row is added to the tables the figures
    come from, or a phone changes state (not with the time alone)."""
    newest = connection.execute(
        select(*(select(func.max(t.c.id)).scalar_subquery() for t in (M, W, R, A, CA, E)))
    ).one()
    phones = connection.execute(select(P.c.id, P.c.state).order_by(P.c.id)).all()
    return _digest(f"{tuple(newest)}|{[tuple(p) for p in phones]}")


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]
