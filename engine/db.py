"""Database engines and sessions, and the migrations that shape the schema.

SQLite (the embedded default) runs in WAL mode with a busy timeout so the CLI,
workers and webhook on one machine can share the file; PostgreSQL (psycopg 3)
serves production and the multi-process tests. Sessions are handed out by a
:class:`Database`, never taken from a global.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from engine.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlmodel import Session

log = logging.getLogger("outreach.db")

SQLITE_BUSY_TIMEOUT_MS = 30_000


def create_db_engine(url: str, *, pool_size: int = 5, synchronous_commit: bool = True) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, a busy timeout and foreign keys.

    ``synchronous_commit=False`` (PostgreSQL only) gives connections whose commits
    return before their WAL reaches the disk; see :attr:`Database.async_commit_engine`.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(f"database url {url!r} is not a valid SQLAlchemy URL") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            if not folder.is_dir():
                raise StorageError(f"database folder {folder} does not exist")
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # No pre-ping: it would cost a round trip per checkout. After a database restart
    # the first statement on a dead connection fails, SQLAlchemy drops the whole pool,
    # and the caller's retry (Dramatiq, the next scheduler pass) reconnects.
    # No JIT: it compiles each large aggregate anew (75-110 ms per report query at
    # 1,000,000 enrollments, a third of a status view; bench/console.py) and our
    # statements are short or reports read on every view, never long analytics.
    options = "-c jit=off" + ("" if synchronous_commit else " -c synchronous_commit=off")
    # The schema's PostgreSQL-only index options (partial conditions, the trigram index),
    # for the migrations' schema comparison and any DDL: left out until now so a process
    # on SQLite never loads SQLAlchemy's PostgreSQL dialect.
    from engine.tables import use_postgresql

    use_postgresql()
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, connect_args={"options": options}
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class RoundTrips:
    """Counts the database round trips of engines: statements, BEGINs and COMMITs."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self.watch(engine)

    def watch(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._hit)
        for name in ("begin", "commit", "rollback"):
            event.listen(engine, name, self._transaction)

    def _hit(self, *_: Any, **__: Any) -> None:
        with self._lock:
            self.count += 1

    def _transaction(self, connection: Any) -> None:
        # In autocommit mode SQLAlchemy still fires these, but nothing is sent.
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            self._hit()

    def take(self) -> int:
        """The count so far, reset to zero."""
        with self._lock:
            count, self.count = self.count, 0
            return count


class Database:
    """The database one process talks to: an engine and a source of sessions."""

    def __init__(self, url: str, *, pool_size: int = 5, count_round_trips: bool = False) -> None:
        self.url = url
        self.engine = create_db_engine(url, pool_size=pool_size)
        self.round_trips = RoundTrips(self.engine) if count_round_trips else None
        self._pool_size = pool_size
        self._async_commit_engine: Engine | None = None
        self._lock = threading.Lock()
        # How many times a connection found the server gone: connections kept outside the
        # pool (ThreadConnections) are replaced when it moved since they were taken.
        self.disconnects = 0
        self._count_disconnects(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def async_commit_engine(self) -> Engine:
        """Connections whose commits do not wait for the disk (PostgreSQL; else ``engine``).

        Only for writes that may be lost in a crash of the database server (never of
        our processes: a commit is still atomic and visible at once) because a later
        step finds and repairs their absence. PostgreSQL flushes its WAL in order, so
        such a write can only be lost together with every commit after it.
        """
        if self.dialect != "postgresql":
            return self.engine
        with self._lock:
            if self._async_commit_engine is None:
                relaxed = create_db_engine(
                    self.url, pool_size=self._pool_size, synchronous_commit=False
                )
                # Two pools on one server: a dead connection found in either means the
                # server went away (restart, failover), so both pools start afresh
                # rather than each paying a failed statement per stale connection.
                _drop_other_on_disconnect(self.engine, relaxed)
                _drop_other_on_disconnect(relaxed, self.engine)
                self._count_disconnects(relaxed)
                if self.round_trips is not None:
                    self.round_trips.watch(relaxed)
                self._async_commit_engine = relaxed
            return self._async_commit_engine

    def _count_disconnects(self, engine: Engine) -> None:
        def handle_error(context: Any) -> None:
            if context.is_disconnect:
                with self._lock:
                    self.disconnects += 1

        event.listen(engine, "handle_error", handle_error)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends cleanly and rolls back otherwise.

        SQLModel's (``session.exec``), imported here: the ORM and pydantic cost a reading
        command a third of its start-up, and the engine's own reads are Core statements."""
        from sqlmodel import Session

        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def autocommit(self) -> Iterator[Connection]:
        """A connection whose every statement commits by itself: a lone read or a statement
        that is atomic alone costs one round trip, with no BEGIN and no ROLLBACK around it."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision`` (default: the latest)."""
        from alembic import command

        try:
            with self.engine.begin() as connection:
                config = _alembic_config(self.url)
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        except OperationalError as error:
            raise StorageError(f"cannot migrate {self.safe_url}: {error.orig}") from None

    def current_revision(self) -> str | None:
        """The revision the database is at, or ``None`` for an empty database."""
        from engine.revisions import current_revision

        try:
            with self.engine.connect() as connection:
                return current_revision(connection)
        except OperationalError as error:
            raise StorageError(f"cannot reach the database {self.safe_url}: {error.orig}") from None

    def head_revision(self) -> str:
        """The latest revision the migrations know."""
        from engine.revisions import head_revision

        return head_revision()

    def require_current(self) -> None:
        """Raise :class:`StorageError` unless the schema is at the latest revision."""
        head = self.head_revision()
        current = self.current_revision()
        if current != head:
            state = "is empty" if current is None else f"is at revision {current}"
            raise StorageError(
                f"the database {self.safe_url} {state}, not {head}: run `outreach db upgrade`"
            )

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return make_url(self.url).render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._async_commit_engine is not None:
            self._async_commit_engine.dispose()


class ThreadConnections:
    """One AUTOCOMMIT connection per thread and engine of a :class:`Database`, kept checked
    out between statements (PostgreSQL's hot path: see ``engine.sending.service``).

    A kept connection is replaced once any connection of the database found the server
    gone since it was taken (a restart): it would fail its next statement too.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Connection] = []

    @property
    def _kept(self) -> dict[bool, tuple[Connection, int]]:
        kept: dict[bool, tuple[Connection, int]] = self._local.__dict__.setdefault("kept", {})
        return kept

    def get(self, *, async_commit: bool) -> Connection:
        """This thread's connection to :attr:`Database.async_commit_engine` or ``engine``."""
        disconnects = self._database.disconnects
        kept = self._kept.get(async_commit)
        if kept is not None and kept[1] == disconnects:
            return kept[0]
        if kept is not None:
            self.drop(async_commit=async_commit)
        database = self._database
        engine = database.async_commit_engine if async_commit else database.engine
        connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._kept[async_commit] = (connection, disconnects)
        with self._lock:
            self._all.append(connection)
        return connection

    def drop(self, *, async_commit: bool) -> None:
        """Close this thread's connection for good (it may be broken); the next
        :meth:`get` opens another."""
        kept = self._kept.pop(async_commit, None)
        if kept is not None:
            self._let_go([kept[0]], broken=True)

    def close(self) -> None:
        """Give every thread's connection back to the pool (once no thread uses them)."""
        with self._lock:
            kept = list(self._all)
        self._let_go(kept, broken=False)

    def _let_go(self, connections: list[Connection], *, broken: bool) -> None:
        # A broken one is closed for good rather than given back to a pool, which may
        # have been disposed meanwhile and would leak it.
        with self._lock:
            self._all = [c for c in self._all if c not in connections]
        for connection in connections:
            try:
                if broken:
                    connection.invalidate()
                connection.close()
            except Exception:  # already broken: nothing to give back
                log.debug("closing a kept connection failed", exc_info=True)


def _drop_other_on_disconnect(engine: Engine, other: Engine) -> None:
    def handle_error(context: Any) -> None:
        if context.is_disconnect:
            other.dispose()  # checked-out connections finish their work, then are dropped

    event.listen(engine, "handle_error", handle_error)


def _alembic_config(url: str) -> Config:
    from alembic.config import Config

    from engine.revisions import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config
