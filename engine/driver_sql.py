"""Hot statements compiled once and run on the driver's cursor, for PostgreSQL.

Each Core execution costs a compiled-cache lookup, an execution context, parameter
processing and a result wrapper: on the send path that bookkeeping costs more CPU than
the driver's own work (bench/send_pipeline.py). A :class:`DriverStatement` compiles its
Core statement once per dialect and hands the SQL string and a plain dict to the
cursor through :meth:`Connection._cursor_execute`, the hook SQLAlchemy's dialects use
for their own statements: cursor events still fire (the round-trip counter sees every
statement) and a driver error still goes through SQLAlchemy's handling (a disconnect
invalidates the pool, ``handle_error`` listeners run, the error arrives wrapped as
``sqlalchemy.exc.DBAPIError``).

What Core would do to values is done here, for the types these statements bind:
timestamps must be timezone-aware and go as UTC; enum members go as their values.
Rows come back as the driver gives them: timestamps the caller reads back must be
passed through :func:`utc`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql import ClauseElement


class DriverStatement:
    """A Core statement run through the driver's cursor; see the module doc."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._compiled: dict[str, tuple[str, dict[str, Any]]] = {}

    def sql(self, dialect: Dialect) -> tuple[str, dict[str, Any]]:
        """The SQL for ``dialect`` and the values of the statement's own literals."""
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self._statement.compile(dialect=dialect)
            if "POSTCOMPILE" in compiled.string:
                # An expanding IN needs Core's per-execution rendering.
                raise ValueError("a DriverStatement cannot hold an expanding IN")
            literals = {name: _bind(value) for name, value in compiled.params.items()}
            found = self._compiled[dialect.name] = (compiled.string, literals)
        return found

    def first(self, connection: Connection, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Execute with ``values`` and return the first row (``None`` when there is none)."""
        cursor = self._execute(connection, values)
        try:
            row = cursor.fetchone() if cursor.description is not None else None
        finally:
            cursor.close()
        return None if row is None else tuple(row)

    def one(self, connection: Connection, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """Execute with ``values`` and return the row it must produce."""
        row = self.first(connection, values)
        if row is None:
            raise LookupError("the statement returned no row")
        return row

    def run(self, connection: Connection, values: Mapping[str, Any]) -> int:
        """Execute with ``values``; the driver's row count."""
        cursor = self._execute(connection, values)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _execute(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        if not (connection.in_transaction() or _autocommit(connection)):
            # Core would begin a transaction here; the driver's cursor would not commit it.
            raise RuntimeError("a DriverStatement runs in a transaction or on AUTOCOMMIT")
        sql, literals = self.sql(connection.dialect)
        parameters = dict(literals)
        for name, value in values.items():
            parameters[name] = _bind(value)
        cursor = connection.connection.cursor()
        # Fires cursor events and turns driver errors into SQLAlchemy's (see module doc).
        connection._cursor_execute(cursor, sql, parameters)
        return cursor


def utc(value: datetime | None) -> datetime | None:
    """A timestamp read through the driver, as UTC (what ``UTCDateTime`` returns)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _autocommit(connection: Connection) -> bool:
    # The driver's own flag: set by an AUTOCOMMIT execution option or engine default alike.
    return bool(getattr(connection.connection.driver_connection, "autocommit", False))


def _bind(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use timezone-aware UTC")
        return value.astimezone(UTC)
    if isinstance(value, Enum):
        return value.value
    return value
