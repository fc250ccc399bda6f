"""Console sessions in the database: a random token in an HttpOnly cookie, its SHA-256
here, and the CSRF token every form of the session carries back."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select

from console.users import User
from engine.tables import CS

__all__ = ["COOKIE", "Session", "end", "end_all_of", "find", "start"]

COOKIE = "outreach_console"


@dataclass(frozen=True)
class Session:
    """A signed-in visitor: who, their role when they signed in, their CSRF token."""

    user: User
    csrf: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(connection: Connection, user: User, now: datetime, hours: float) -> tuple[str, Session]:
    """A new session for ``user``: the cookie's token and the session. Expired sessions
    of anyone are cleared on the way."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    connection.execute(delete(CS).where(CS.c.expires_at < now))
    connection.execute(
        insert(CS).values(
            token_hash=_digest(token), user=user.name, role=user.role, csrf=csrf,
            created_at=now, expires_at=now + timedelta(hours=hours),
        )
    )  # fmt: skip
    return token, Session(user, csrf)


def find(connection: Connection, token: str | None, now: datetime) -> Session | None:
    """The live session of ``token``, or ``None`` (no cookie, unknown, expired)."""
    if not token:
        return None
    row = connection.execute(
        select(CS.c.user, CS.c.role, CS.c.csrf).where(
            CS.c.token_hash == _digest(token), CS.c.expires_at > now
        )
    ).first()
    return None if row is None else Session(User(row.user, row.role), row.csrf)


def end(connection: Connection, token: str | None) -> None:
    """Sign out: the token no longer opens anything."""
    if token:
        connection.execute(delete(CS).where(CS.c.token_hash == _digest(token)))


def end_all_of(connection: Connection, user: str) -> int:
    """Sign ``user`` out everywhere (a removed user, a changed password)."""
    return connection.execute(delete(CS).where(CS.c.user == user)).rowcount or 0
