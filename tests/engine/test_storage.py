"""The same storage behaviour on SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from engine.db import Database
from engine.errors import StorageError
from engine.models import (
    Enrollment,
    EnrollmentState,
    Lead,
    LeadTag,
    Message,
    Phone,
    QuotaUsage,
    Suppression,
    WebhookEvent,
)
from engine.tables import metadata
from tests.seed import campaign_id


def add_lead(database: Database, phone: str = "+40712345678") -> int:
    with database.session() as session:
        lead = Lead(phone=phone, variables={"name": "Ana", "company": "Acme"})
        session.add(lead)
        session.flush()
        assert lead.id is not None
        return lead.id


def test_schema_is_at_head_and_upgrade_is_idempotent(database: Database) -> None:
    database.require_current()
    database.upgrade()
    assert database.current_revision() == database.head_revision()


def test_the_migrations_build_exactly_the_tables_schema(database: Database) -> None:
    """Columns, types, indexes and constraints: a model changed without its migration (or
    the other way round) shows up here, not on a user's first upgrade."""
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


# A new interpreter: the options are given once per process, and this one may have made
# a PostgreSQL engine already. Prints each index's DDL on PostgreSQL and on SQLite, and
# whether SQLAlchemy's PostgreSQL dialect had been imported before the engine was made.
_INDEX_DDL = """
import json, sys
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex
from engine.tables import metadata
before = "sqlalchemy.dialects.postgresql" in sys.modules
from engine.db import create_db_engine
dialects = {
    "postgresql": create_db_engine("postgresql+psycopg://nobody@127.0.0.1:1/none").dialect,
    "sqlite": sqlite.dialect(),
}
ddl = {name: {i.name: str(CreateIndex(i).compile(dialect=dialect))
              for t in metadata.tables.values() for i in t.indexes}
       for name, dialect in dialects.items()}
print(json.dumps({"loaded_before": before, "ddl": ddl}))
"""


def test_postgresql_indexes_get_their_options_once_an_engine_is_made() -> None:
    """The partial indexes and the trigram index keep their PostgreSQL options
    (``engine.tables.use_postgresql``), though importing the tables no longer loads the
    PostgreSQL dialect (a SQLite process never needs it)."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", _INDEX_DDL], cwd=root, capture_output=True, text=True,
        check=True, timeout=120,
    )  # fmt: skip
    found = json.loads(done.stdout)
    assert found["loaded_before"] is False
    postgresql, sqlite = found["ddl"]["postgresql"], found["ddl"]["sqlite"]
    partial = {name for name, sql in sqlite.items() if " WHERE " in sql}
    assert len(partial) >= 7
    assert {name for name, sql in postgresql.items() if " WHERE " in sql} == partial
    for name in partial:  # the same condition on both
        assert postgresql[name].partition(" WHERE ")[2] == sqlite[name].partition(" WHERE ")[2]
    assert postgresql["uq_enrollments_one_running_per_lead"].endswith(
        "(lead_id) WHERE state IN ('active', 'pending')"
    )
    assert "USING gin (name_key gin_trgm_ops)" in postgresql["ix_leads_name_key"]


def test_empty_database_is_reported_with_the_fix(tmp_path: Path) -> None:
    empty = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(StorageError, match="outreach db upgrade"):
        empty.require_current()
    empty.dispose()


def test_timestamps_round_trip_as_aware_utc(database: Database) -> None:
    bucharest = timezone(timedelta(hours=2))
    moment = datetime(2026, 3, 29, 2, 30, tzinfo=bucharest)
    with database.session() as session:
        session.add(Phone(id="01", phone="+447700900001", next_send_at=moment))
    with database.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None and phone.next_send_at is not None
        assert phone.next_send_at == moment
        assert phone.next_send_at.tzinfo is not None
        assert phone.next_send_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"), database.session() as session:
        session.add(Phone(id="01", phone="+447700900001", last_send_at=datetime(2026, 1, 1)))
        session.flush()


def test_json_variables_and_tags(database: Database) -> None:
    lead_id = add_lead(database)
    with database.session() as session:
        session.add(LeadTag(lead_id=lead_id, tag="spring"))
    with database.session() as session:
        lead = session.get(Lead, lead_id)
        assert lead is not None and lead.variables == {"name": "Ana", "company": "Acme"}
        tags = session.exec(select(LeadTag.tag).where(LeadTag.lead_id == lead_id)).all()
        assert list(tags) == ["spring"]


def test_a_lead_phone_is_unique(database: Database) -> None:
    add_lead(database)
    with pytest.raises(IntegrityError):
        add_lead(database)


def test_a_lead_runs_in_at_most_one_sequence_at_a_time(database: Database) -> None:
    lead_id = add_lead(database)
    with database.session() as session:
        intro, other = campaign_id(session, "intro"), campaign_id(session, "other")
        session.add(Enrollment(lead_id=lead_id, campaign_id=intro, sequence="intro"))
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(
            Enrollment(
                lead_id=lead_id, campaign_id=other, sequence="other", state=EnrollmentState.ACTIVE
            )
        )
    with database.session() as session:
        first = session.exec(select(Enrollment)).one()
        first.state = EnrollmentState.COMPLETED
        session.add(first)
    with database.session() as session:  # once ended, another sequence may start
        session.add(Enrollment(lead_id=lead_id, campaign_id=other, sequence="other"))


def test_one_outbound_message_per_enrollment_step(database: Database) -> None:
    lead_id = add_lead(database)
    with database.session() as session:
        enrollment = Enrollment(
            lead_id=lead_id, campaign_id=campaign_id(session, "intro"), sequence="intro"
        )
        session.add(enrollment)
        session.flush()
        enrollment_id = enrollment.id
        session.add(Message(direction="out", enrollment_id=enrollment_id, step=0, text="hi"))
        # Inbound messages are not limited by the rule.
        session.add(Message(direction="in", enrollment_id=enrollment_id, step=0, text="a"))
        session.add(Message(direction="in", enrollment_id=enrollment_id, step=0, text="b"))
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(Message(direction="out", enrollment_id=enrollment_id, step=0, text="again"))


def test_message_uid_and_webhook_dedupe_key_are_unique(database: Database) -> None:
    with database.session() as session:
        session.add(Message(direction="in", message_uid="u-1", text="x"))
        session.add(WebhookEvent(dedupe_key="k-1", event_type="message:received:new"))
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(Message(direction="in", message_uid="u-1", text="y"))
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(WebhookEvent(dedupe_key="k-1", event_type="message:received:new"))


def test_quota_usage_increments_atomically_under_threads(database: Database) -> None:
    """The quota row is taken with one conditional UPDATE: never past the limit."""
    day = date(2026, 11, 22)
    with database.session() as session:
        session.add(QuotaUsage(phone_id="01", day=day, used=0))
    limit, taken = 25, []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(10):
            with database.engine.begin() as connection:
                result = connection.execute(
                    text(
                        "UPDATE quota_usage SET used = used + 1 "
                        "WHERE phone_id = '01' AND day = :day AND used < :limit"
                    ),
                    {"day": day, "limit": limit},
                )
                if result.rowcount == 1:
                    with lock:
                        taken.append(1)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == limit
    with database.session() as session:
        usage = session.get(QuotaUsage, ("01", day))
        assert usage is not None and usage.used == limit


def test_suppression_by_number(database: Database) -> None:
    with database.session() as session:
        session.add(Suppression(phone="+40712345678", reason="opt_out"))
    with database.session() as session:
        assert session.get(Suppression, "+40712345678") is not None


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_database: Database) -> None:
    with sqlite_database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 30_000


def test_enrollment_dispatch_index_exists(database: Database) -> None:
    from sqlalchemy import inspect

    names = {index["name"] for index in inspect(database.engine).get_indexes("enrollments")}
    assert {"ix_enrollments_dispatch", "uq_enrollments_one_running_per_lead"} <= names


def test_now_is_stored_with_microseconds(database: Database) -> None:
    moment = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)
    with database.session() as session:
        session.add(Phone(id="02", phone="+447700900002", last_send_at=moment))
    with database.session() as session:
        phone = session.get(Phone, "02")
        assert phone is not None and phone.last_send_at == moment


def test_the_async_commit_engine_only_relaxes_durability_on_postgresql(
    database: Database,
) -> None:
    relaxed = database.async_commit_engine
    if database.dialect != "postgresql":
        assert relaxed is database.engine
        return
    with relaxed.connect() as fast, database.engine.connect() as durable:
        assert fast.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
        assert durable.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    assert database.async_commit_engine is relaxed  # one pool, made once


def test_postgresql_connections_do_not_jit_compile_queries(database: Database) -> None:
    if database.dialect != "postgresql":
        return
    for engine in (database.engine, database.async_commit_engine):
        with engine.connect() as connection:
            assert connection.execute(text("SHOW jit")).scalar_one() == "off"


def test_a_dead_connection_in_one_pool_drops_the_other_pool_too(pg_url: str) -> None:
    from sqlalchemy.exc import OperationalError

    from tests.reliability.faults import database_behind_proxy

    with database_behind_proxy(pg_url) as (database, proxy):
        proxy.outage(0.1)  # the server "restarts": every pooled connection is dead
        with pytest.raises(OperationalError), database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        # The other pool was dropped with it: its next statement gets a fresh connection.
        with database.async_commit_engine.connect() as connection:
            assert connection.execute(text("SELECT 2")).scalar_one() == 2
