"""The tables as SQLAlchemy Core objects: one name each, defined once for every query.

The send path, the receiver, the dispatcher, the reports and the campaign statements
all build Core statements (set-based, compiled once); they take their tables from
here rather than each from :mod:`engine.models`:

=====  ===================  =====  ===================
``P``  phones               ``M``  messages
``L``  leads                ``Q``  quota_usage
``T``  lead_tags            ``W``  webhook_events
``C``  campaigns            ``R``  review_flags
``E``  enrollments          ``AR`` auto_replies
``S``  suppressions         ``A``  alerts
``IS`` install_secrets     ``CS`` console_sessions
``CA`` console_actions
=====  ===================  =====  ===================
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, or_

from engine.models import (
    RUNNING_STATES,
    Alert,
    AutoReply,
    Campaign,
    ConsoleAction,
    ConsoleSession,
    Enrollment,
    InstallSecret,
    Lead,
    LeadTag,
    Message,
    Phone,
    QuotaUsage,
    ReviewFlag,
    Suppression,
    WebhookEvent,
)

__all__ = [
    "AR", "CA", "CS", "IS", "A", "C", "E", "L", "M", "P", "Q", "R", "S", "T", "W",
    "insert_for", "running",
]  # fmt: skip


def _table(model: object) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


P = _table(Phone)
L = _table(Lead)
T = _table(LeadTag)
C = _table(Campaign)
E = _table(Enrollment)
S = _table(Suppression)
M = _table(Message)
Q = _table(QuotaUsage)
W = _table(WebhookEvent)
R = _table(ReviewFlag)
AR = _table(AutoReply)
A = _table(Alert)
IS = _table(InstallSecret)
CS = _table(ConsoleSession)
CA = _table(ConsoleAction)


def running(state: ColumnElement[str] | None = None) -> ColumnElement[bool]:
    """``state`` (``enrollments.state`` by default) is one of :data:`RUNNING_STATES`.

    Written as equalities, not ``IN``: an expanding ``IN`` cannot be compiled once for
    the driver's cursor (:mod:`engine.driver_sql`), and PostgreSQL plans both alike.
    """
    column = E.c.state if state is None else state
    return or_(*(column == value for value in sorted(RUNNING_STATES)))


def insert_for(connection: Connection) -> Any:
    """The connection's dialect's ``INSERT``, the one with ``ON CONFLICT`` (SQLite and
    PostgreSQL spell the upsert alike; SQLAlchemy keeps it per dialect)."""
    # Imported here: each dialect costs 5-17 ms, and a process uses one.
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
