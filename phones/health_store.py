"""Reading every phone's health from the database: one statement per figure, all phones.

Each statement is a ``UNION ALL`` of one branch per phone, each branch that phone's
latest rows (``ORDER BY ... DESC LIMIT n``): the portable form of a ``LATERAL`` join,
on SQLite and PostgreSQL alike, and each branch walks an index backwards and stops
after ``n`` rows, however long the history (``ix_messages_phone_sent``,
``ix_enrollments_invalid``, migration 0010). What counts is decided by the pure
:func:`phones.health.assess`; the first messages' branches leave out only those whose
outcome is still unknown, by the same rule (:func:`phones.health.outcome`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, Connection, Select, exists, or_, select, union_all

from engine.settings import HealthSettings
from engine.states import OPT_OUT, Direction, EnrollmentState
from engine.tables import E, M
from phones.health import (
    DELIVERED_STATUSES,
    FAILED_STATUS,
    Attempt,
    FirstMessage,
    PhoneHealth,
    Reply,
    assess,
)

__all__ = ["read_health"]

_ANSWER = M.alias("answer")
_Branch: TypeAlias = Callable[[str], Select[Any]]
"""One phone's rows of a figure, newest first."""


def read_health(
    connection: Connection, phone_ids: Sequence[str], windows: HealthSettings, now: datetime
) -> dict[str, PhoneHealth]:
    """Each of ``phone_ids``' health at ``now`` (:func:`phones.health.assess`)."""
    if not phone_ids:
        return {}
    stuck_before = now - timedelta(hours=windows.stuck_after_h)
    first = [
        FirstMessage(row.phone_id, row.id, row.at, row.status, bool(row.answered))
        for row in _latest(connection, phone_ids, windows.first_messages, _first_messages(
            extra=(_known(stuck_before),)
        ))
    ]  # fmt: skip
    attempts = [
        Attempt(row.phone_id, row.id, row.at, invalid=False)
        for row in _latest(connection, phone_ids, windows.sends, _first_messages())
    ]
    attempts += [
        Attempt(row.phone_id, row.id, row.at, invalid=True)
        for row in _latest(connection, phone_ids, windows.sends, _invalid_numbers())
    ]
    replies = [
        Reply(row.phone_id, row.id, row.at, opt_out=row.intent == OPT_OUT)
        for row in _latest(connection, phone_ids, windows.replies, _replies())
    ]
    return assess(phone_ids, first, attempts, replies, now=now, windows=windows)


def _answered() -> ColumnElement[bool]:
    """The lead replied to the first message's enrollment (``ix_messages_lead``)."""
    return exists().where(
        _ANSWER.c.lead_id == M.c.lead_id,
        _ANSWER.c.enrollment_id == M.c.enrollment_id,
        _ANSWER.c.direction == Direction.IN,
    )


def _known(stuck_before: datetime) -> ColumnElement[bool]:
    """The first message has an outcome: :func:`phones.health.outcome` is not ``None``."""
    return or_(
        M.c.status.in_(sorted(DELIVERED_STATUSES | {FAILED_STATUS})),
        M.c.sent_at <= stuck_before,
        _answered(),
    )


def _first_messages(extra: tuple[ColumnElement[bool], ...] = ()) -> _Branch:
    def branch(phone_id: str) -> Select[Any]:
        return select(
            M.c.phone_id, M.c.id, M.c.sent_at.label("at"), M.c.status,
            _answered().label("answered"),
        ).where(
            M.c.phone_id == phone_id, M.c.direction == Direction.OUT, M.c.step == 0,
            M.c.enrollment_id.is_not(None), M.c.sent_at.is_not(None), *extra,
        ).order_by(M.c.sent_at.desc(), M.c.id.desc())  # fmt: skip

    return branch


def _invalid_numbers() -> _Branch:
    def branch(phone_id: str) -> Select[Any]:
        return (
            select(E.c.phone_id, E.c.id, E.c.ended_at.label("at"))
            .where(
                E.c.phone_id == phone_id,
                E.c.state == EnrollmentState.INVALID_NUMBER,
                E.c.ended_at.is_not(None),
            )
            .order_by(E.c.ended_at.desc(), E.c.id.desc())
        )

    return branch


def _replies() -> _Branch:
    def branch(phone_id: str) -> Select[Any]:
        return (
            select(M.c.phone_id, M.c.id, M.c.sent_at.label("at"), M.c.intent)
            .where(
                M.c.phone_id == phone_id, M.c.direction == Direction.IN, M.c.sent_at.is_not(None)
            )
            .order_by(M.c.sent_at.desc(), M.c.id.desc())
        )

    return branch


def _latest(
    connection: Connection, phone_ids: Sequence[str], size: int, branch: _Branch
) -> Sequence[Any]:
    """Every phone's latest ``size`` rows of ``branch``, in one statement."""
    parts = [branch(phone_id).limit(size).subquery() for phone_id in phone_ids]
    statement = union_all(*(select(part) for part in parts))
    return connection.execute(statement).all()
