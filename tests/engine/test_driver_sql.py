"""Statements run through the driver's cursor keep Core's guarantees (engine.driver_sql)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Connection, bindparam, select, text, update
from sqlalchemy.exc import OperationalError

from engine.db import Database
from engine.driver_sql import DriverStatement
from engine.models import Phone, PhoneState
from tests.reliability.faults import database_behind_proxy

P = Phone.__table__  # type: ignore[attr-defined]

_SET_PACING = DriverStatement(
    update(P)
    .where(P.c.id == bindparam("b_id"), P.c.state == PhoneState.ACTIVE)
    .values(next_send_at=bindparam("b_at"))
    .returning(P.c.next_send_at, P.c.state)
)


@pytest.fixture
def phone(pg_database: Database) -> Database:
    with pg_database.engine.begin() as connection:
        connection.execute(
            P.insert().values(id="01", phone="+447700900001", state="active", sent_total=0,
                              failures_total=0)
        )  # fmt: skip
    return pg_database


def autocommit(database: Database) -> Connection:
    return database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def test_a_statement_binds_aware_timestamps_as_utc_and_reads_them_back(phone: Database) -> None:
    at = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=3)))
    with autocommit(phone) as connection:
        row = _SET_PACING.one(connection, {"b_id": "01", "b_at": at})
    assert row[0] == at
    assert row[0].tzinfo is UTC  # read back through UTCDateTime's own processor
    assert row[1] == "active"  # the enum literal was bound by its value
    with phone.engine.connect() as connection:
        stored = connection.execute(select(P.c.next_send_at)).scalar_one()
    assert stored == at


def test_no_row_and_row_counts(phone: Database) -> None:
    at = datetime.now(UTC)
    with autocommit(phone) as connection:
        assert _SET_PACING.first(connection, {"b_id": "99", "b_at": at}) is None
        with pytest.raises(LookupError):
            _SET_PACING.one(connection, {"b_id": "99", "b_at": at})
        plain = DriverStatement(update(P).values(failures_total=P.c.failures_total + 1))
        assert plain.run(connection, {}) == 1


def test_naive_timestamps_are_refused(phone: Database) -> None:
    with autocommit(phone) as connection, pytest.raises(ValueError, match="naive"):
        _SET_PACING.first(connection, {"b_id": "01", "b_at": datetime(2026, 1, 1)})


def test_outside_a_transaction_or_autocommit_it_refuses_to_run(phone: Database) -> None:
    # The driver's cursor would open a transaction that nobody commits: the write would be lost.
    with phone.engine.connect() as connection, pytest.raises(RuntimeError):
        _SET_PACING.first(connection, {"b_id": "01", "b_at": datetime.now(UTC)})
    with phone.engine.begin() as connection:  # in a transaction it runs and commits
        assert _SET_PACING.first(connection, {"b_id": "01", "b_at": datetime.now(UTC)})


def test_an_expanding_in_is_refused(phone: Database) -> None:
    statement = DriverStatement(select(P.c.id).where(P.c.state.in_(["active", "paused"])))
    with autocommit(phone) as connection, pytest.raises(ValueError, match="expanding IN"):
        statement.first(connection, {})


def test_the_round_trip_counter_sees_every_statement(pg_url: str) -> None:
    database = Database(pg_url, count_round_trips=True)
    try:
        counter = database.round_trips
        assert counter is not None
        counter.take()
        with autocommit(database) as connection:
            for _ in range(3):
                _SET_PACING.first(connection, {"b_id": "01", "b_at": datetime.now(UTC)})
        assert counter.take() == 3
    finally:
        database.dispose()


def test_a_dead_connection_is_reported_and_both_pools_start_afresh(pg_url: str) -> None:
    # Like Core: the error arrives as SQLAlchemy's, the pool is invalidated, and the
    # handle_error listeners run (here: the async-commit pool is dropped too).
    with database_behind_proxy(pg_url) as (database, proxy):
        proxy.outage(0.1)
        with pytest.raises(OperationalError), autocommit(database) as connection:
            DriverStatement(select(text("1"))).first(connection, {})
        for engine in (database.engine, database.async_commit_engine):
            with engine.connect() as connection:  # fresh connections in both pools
                assert connection.execute(text("SELECT 2")).scalar_one() == 2
