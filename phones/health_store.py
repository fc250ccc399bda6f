"""Reading every phone's health from the database: one statement per figure, all phones.

Each statement is a ``UNION ALL`` of one branch per phone, each branch that phone's
latest rows (``ORDER BY ... DESC LIMIT n``): the portable form of a ``LATERAL`` join,
on SQLite and PostgreSQL alike, and each branch walks an index backwards and stops
after ``n`` rows, however long the history (the partial indexes of migration 0010).
What counts is decided by the pure :func:`phones.health.assess`; the first messages'
branches leave out only those whose outcome is still unknown, by the same rule
(:func:`phones.health.outcome`: a status final enough, or one read after the grace
period ended), and whether their leads answered is one more statement over those few
rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    func,
    literal,
    or_,
    select,
    union_all,
)

from engine.settings import HealthSettings
from engine.states import OPT_OUT, Direction, EnrollmentState
from engine.tables import E, M, first_message
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

_Branch: TypeAlias = Callable[[str], Select[Any]]
"""One phone's rows of a figure, newest first."""


def _fixed(value: object) -> Any:
    """A value written into the SQL itself, so that PostgreSQL sees a partial index's
    predicate in every plan (a bound parameter hides it from a prepared generic plan)."""
    return literal(value, literal_execute=True)


def read_health(
    connection: Connection, phone_ids: Sequence[str], windows: HealthSettings, now: datetime,
    since: Mapping[str, datetime] | None = None,
) -> dict[str, PhoneHealth]:  # fmt: skip
    """Each of ``phone_ids``' health at ``now`` (:func:`phones.health.assess`), from each
    phone's rows after its moment in ``since`` (if any)."""
    if not phone_ids:
        return {}
    stuck_after = timedelta(hours=windows.stuck_after_h)
    settled = or_(
        M.c.status.in_(sorted(DELIVERED_STATUSES | {FAILED_STATUS})),
        and_(M.c.sent_at <= now - stuck_after, _read_later(connection, stuck_after)),
    )
    rows = _latest(connection, phone_ids, windows.first_messages, _first_messages(settled))
    answered = _answered(connection, rows)
    first = [
        FirstMessage(
            row.phone_id, row.id, row.at, row.status, row.enrollment_id in answered,
            row.status_read_at,
        )
        for row in rows
    ]  # fmt: skip
    attempts = [
        Attempt(row.phone_id, row.id, row.at, invalid=False)
        for row in _latest(connection, phone_ids, windows.sends, _first_messages())
    ]
    attempts += [
        Attempt(row.phone_id, row.id, row.at, invalid=True)
        for row in _latest(connection, phone_ids, windows.sends, _invalid_numbers)
    ]
    replies = [
        Reply(row.phone_id, row.id, row.at, opt_out=row.intent == OPT_OUT)
        for row in _latest(connection, phone_ids, windows.replies, _replies)
    ]
    return assess(phone_ids, first, attempts, replies, now=now, windows=windows, since=since)


def _read_later(connection: Connection, span: timedelta) -> ColumnElement[bool]:
    """A message's status was read later than ``span`` after it was sent
    (:func:`phones.health.read_after_grace`), in the connection's dialect: PostgreSQL adds
    an interval; SQLite, which keeps timestamps as text, compares Julian days (exact to
    the millisecond, which is all its date functions read)."""
    if connection.dialect.name == "postgresql":
        return M.c.status_read_at > M.c.sent_at + literal(span)
    days = span.total_seconds() / 86_400
    return func.julianday(M.c.status_read_at) - func.julianday(M.c.sent_at) > days


def _answered(connection: Connection, first_messages: Sequence[Any]) -> set[int]:
    """The enrollments among ``first_messages``' whose lead replied (``ix_messages_lead``)."""
    if not first_messages:
        return set()
    found = connection.execute(
        select(M.c.enrollment_id).distinct().where(
            M.c.direction == Direction.IN,
            M.c.lead_id.in_({row.lead_id for row in first_messages}),
            M.c.enrollment_id.in_({row.enrollment_id for row in first_messages}),
        )
    ).scalars()  # fmt: skip
    return set(found)


def _first_messages(*extra: ColumnElement[bool]) -> _Branch:
    """A phone's first messages (``ix_messages_first_sent``), meeting ``extra``."""

    def branch(phone_id: str) -> Select[Any]:
        return select(
            M.c.phone_id, M.c.id, M.c.sent_at.label("at"), M.c.status, M.c.lead_id,
            M.c.enrollment_id, M.c.status_read_at,
        ).where(
            M.c.phone_id == phone_id, first_message(), M.c.sent_at.is_not(None),
            M.c.enrollment_id.is_not(None),
            *extra,
        ).order_by(M.c.sent_at.desc(), M.c.id.desc())  # fmt: skip

    return branch


def _invalid_numbers(phone_id: str) -> Select[Any]:
    """A phone's enrollments that met an invalid number (``ix_enrollments_invalid``)."""
    return (
        select(E.c.phone_id, E.c.id, E.c.ended_at.label("at"))
        .where(
            E.c.phone_id == phone_id,
            E.c.state == _fixed(EnrollmentState.INVALID_NUMBER.value),
            E.c.ended_at.is_not(None),
        )
        .order_by(E.c.ended_at.desc(), E.c.id.desc())
    )


def _replies(phone_id: str) -> Select[Any]:
    """A phone's replies (``ix_messages_replies_sent``)."""
    return (
        select(M.c.phone_id, M.c.id, M.c.sent_at.label("at"), M.c.intent)
        .where(
            M.c.phone_id == phone_id,
            M.c.direction == _fixed(Direction.IN.value),
            M.c.sent_at.is_not(None),
        )
        .order_by(M.c.sent_at.desc(), M.c.id.desc())
    )


def _latest(
    connection: Connection, phone_ids: Sequence[str], size: int, branch: _Branch
) -> Sequence[Any]:
    """Every phone's latest ``size`` rows of ``branch``, in one statement."""
    parts = [branch(phone_id).limit(size).subquery() for phone_id in phone_ids]
    statement = union_all(*(select(part) for part in parts))
    return connection.execute(statement).all()
