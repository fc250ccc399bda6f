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

Values still pass through their column types' own bind and result processors, taken
once from the compiled statement: a ``UTCDateTime`` refuses a naive timestamp and reads
back as aware UTC, exactly as through Core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True)
class _Compiled:
    sql: str
    literals: dict[str, Any]  # the statement's own values, already processed
    binds: dict[str, Callable[[Any], Any]]  # by parameter name, where the type has one
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column index, processor)


class DriverStatement:
    """A Core statement run through the driver's cursor; see the module doc."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def first(self, connection: Connection, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """Execute with ``values`` and return the first row (``None`` when there is none)."""
        compiled, cursor = self._execute(connection, values)
        try:
            row = cursor.fetchone() if cursor.description is not None else None
        finally:
            cursor.close()
        if row is None:
            return None
        if not compiled.results:
            return tuple(row)
        processed = list(row)
        for index, process in compiled.results:
            processed[index] = process(processed[index])
        return tuple(processed)

    def one(self, connection: Connection, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """Execute with ``values`` and return the row it must produce."""
        row = self.first(connection, values)
        if row is None:
            raise LookupError("the statement returned no row")
        return row

    def run(self, connection: Connection, values: Mapping[str, Any]) -> int:
        """Execute with ``values``; the driver's row count."""
        _, cursor = self._execute(connection, values)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _compile(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is not None:
            return found
        compiled = self._statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):
            raise TypeError("a DriverStatement holds a SQL statement")
        if "POSTCOMPILE" in compiled.string:
            # An expanding IN needs Core's per-execution rendering.
            raise ValueError("a DriverStatement cannot hold an expanding IN")
        binds: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            process = bind.type.bind_processor(dialect)
            if process is not None:
                binds[name] = process
        literals = {
            name: binds[name](value) if name in binds else value
            for name, value in compiled.params.items()
        }
        columns = getattr(self._statement, "exported_columns", ())
        results = tuple(
            (index, process)
            for index, column in enumerate(columns)
            if (process := column.type.result_processor(dialect, None)) is not None
        )
        found = self._compiled[dialect.name] = _Compiled(compiled.string, literals, binds, results)
        return found

    def _execute(self, connection: Connection, values: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        if not (connection.in_transaction() or _autocommit(connection)):
            # Core would begin a transaction here; the driver's cursor would not commit it.
            raise RuntimeError("a DriverStatement runs in a transaction or on AUTOCOMMIT")
        compiled = self._compile(connection.dialect)
        parameters = dict(compiled.literals)
        for name, value in values.items():
            process = compiled.binds.get(name)
            parameters[name] = value if process is None else process(value)
        cursor = connection.connection.cursor()
        # Fires cursor events and turns driver errors into SQLAlchemy's (see module doc).
        connection._cursor_execute(cursor, compiled.sql, parameters)
        return compiled, cursor


def _autocommit(connection: Connection) -> bool:
    # The driver's own flag: set by an AUTOCOMMIT execution option or engine default alike.
    return bool(getattr(connection.connection.driver_connection, "autocommit", False))
