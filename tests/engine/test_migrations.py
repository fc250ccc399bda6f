"""Migrations that move data: revision 0004 (campaigns as their own objects), on both databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from alembic import command
from sqlalchemy import text

from engine.db import Database, _alembic_config
from tests.conftest import service_missing

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PG_ADMIN_DSN = os.environ.get(
    "OUTREACH_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def blank(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty database of its own (migrations are applied by the test)."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'old.db'}")
        yield database
        database.dispose()
        return
    name = f"outreach_mig_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        service_missing("PostgreSQL", error)
        raise
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    params = psycopg.conninfo.conninfo_to_dict(PG_ADMIN_DSN)
    database = Database(
        f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}"
        f":{params.get('port', 5432)}/{name}"
    )
    yield database
    database.dispose()
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _seed_0003(database: Database) -> None:
    """One campaign row per sequence, as before 0004, and a sequence without one."""
    rows = {
        "campaigns": [("intro", "paused"), ("done", "completed")],
        # (lead, sequence, state)
        "enrollments": [
            (1, "intro", "pending"), (2, "intro", "replied"), (3, "orphan", "active"),
            (4, "done", "completed"), (2, "done", "completed"),
        ],
    }  # fmt: skip
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO phones (id, phone, state, sent_total, failures_total, created_at) "
                "VALUES ('01', '+447700900001', 'active', 0, 0, :now)"
            ),
            {"now": NOW},
        )
        for sequence, state in rows["campaigns"]:
            connection.execute(
                text(
                    "INSERT INTO campaigns (sequence, state, created_at, updated_at) "
                    "VALUES (:s, :state, :now, :now)"
                ),
                {"s": sequence, "state": state, "now": NOW},
            )
        for lead in range(1, 5):
            connection.execute(
                text(
                    "INSERT INTO leads (id, phone, variables, created_at, updated_at) "
                    "VALUES (:id, :phone, '{}', :now, :now)"
                ),
                {"id": lead, "phone": f"+4071200000{lead}", "now": NOW},
            )
        for index, (lead, sequence, state) in enumerate(rows["enrollments"], start=1):
            connection.execute(
                text(
                    "INSERT INTO enrollments (id, lead_id, sequence, state, step, step_state, "
                    "phone_id, attempts, created_at, updated_at) "
                    "VALUES (:id, :lead, :s, :state, 0, 'due', '01', 0, :now, :now)"
                ),
                {"id": index, "lead": lead, "s": sequence, "state": state, "now": NOW},
            )
        # Rows that point at enrollments: they must survive the table's rebuild.
        connection.execute(
            text(
                "INSERT INTO messages (id, direction, enrollment_id, step, lead_id, text, "
                "status, created_at) VALUES (1, 'out', 2, 0, 2, 'hi', 'sent', :now), "
                "(2, 'in', 2, 0, 2, 'yes', 'received', :now)"
            ),
            {"now": NOW},
        )
        connection.execute(
            text(
                "INSERT INTO review_flags (message_id, lead_id, enrollment_id, priority, "
                "reasons, created_at) VALUES (2, 2, 2, 1, '{}', :now)"
            ),
            {"now": NOW},
        )


def test_each_sequence_becomes_a_campaign_of_its_name_holding_its_enrollments(
    blank: Database,
) -> None:
    blank.upgrade("0003")
    _seed_0003(blank)
    blank.upgrade()
    with blank.engine.connect() as connection:
        campaigns = connection.execute(
            text("SELECT name, sequence, state FROM campaigns ORDER BY name")
        ).all()
        # The sequence without a campaign row, still running, waits for a person to resume it.
        assert [tuple(row) for row in campaigns] == [
            ("done", "done", "completed"),
            ("intro", "intro", "paused"),
            ("orphan", "orphan", "paused"),
        ]
        enrollments = connection.execute(
            text(
                "SELECT e.id, c.name FROM enrollments AS e "
                "JOIN campaigns AS c ON c.id = e.campaign_id ORDER BY e.id"
            )
        ).all()
        assert [tuple(row) for row in enrollments] == [
            (1, "intro"), (2, "intro"), (3, "orphan"), (4, "done"), (5, "done"),
        ]  # fmt: skip
        flags = connection.execute(text("SELECT enrollment_id FROM review_flags")).scalars()
        assert list(flags) == [2]
        if blank.dialect == "sqlite":
            assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
    # The invariants hold in the new shape: one running enrollment per lead, and one per
    # (lead, campaign); another campaign of the same sequence may take an ended lead.
    with pytest.raises(Exception, match="(?i)unique"), blank.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO enrollments (lead_id, campaign_id, sequence, state, step, "
                "step_state, attempts, created_at, updated_at) SELECT 4, id, 'done', "
                "'completed', 0, 'due', 0, :now, :now FROM campaigns WHERE name = 'done'"
            ),
            {"now": NOW},
        )


def test_the_migration_goes_back_while_each_sequence_has_one_campaign(blank: Database) -> None:
    blank.upgrade("0003")
    _seed_0003(blank)
    blank.upgrade()
    with blank.engine.begin() as connection:
        config = _alembic_config(blank.url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    with blank.engine.connect() as connection:
        campaigns = connection.execute(
            text("SELECT sequence, state FROM campaigns ORDER BY sequence")
        ).all()
        assert [tuple(row) for row in campaigns] == [
            ("done", "completed"), ("intro", "paused"), ("orphan", "paused"),
        ]  # fmt: skip
        count = connection.execute(text("SELECT COUNT(*) FROM enrollments")).scalar()
        assert count == 5
    blank.upgrade()  # and forward again


def test_0008_fills_each_stored_leads_name_key_and_goes_back(blank: Database) -> None:
    blank.upgrade("0007")
    with blank.engine.begin() as connection:
        for lead, variables in enumerate(
            ['{"first_name": "Ioana", "last_name": "POP"}', '{"city": "Cluj"}', "{}"], start=1
        ):
            connection.execute(
                text(
                    "INSERT INTO leads (id, phone, variables, created_at, updated_at) "
                    "VALUES (:id, :phone, :variables, :now, :now)"
                ),
                {"id": lead, "phone": f"+4071200000{lead}", "variables": variables, "now": NOW},
            )
    blank.upgrade()
    with blank.engine.connect() as connection:
        keys = connection.execute(text("SELECT id, name_key FROM leads ORDER BY id")).all()
    assert [tuple(row) for row in keys] == [(1, "ioana pop"), (2, None), (3, None)]
    with blank.engine.begin() as connection:
        config = _alembic_config(blank.url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0007")
    with blank.engine.connect() as connection:
        columns = connection.execute(text("SELECT * FROM leads")).keys()
    assert "name_key" not in columns


def test_0011_fills_each_stored_leads_company_key_and_goes_back(blank: Database) -> None:
    blank.upgrade("0010")
    with blank.engine.begin() as connection:
        for lead, variables in enumerate(
            ['{"company_domain": "WWW.Acme.example"}', '{"company": " Acme  Corp"}', "{}"],
            start=1,
        ):
            connection.execute(
                text(
                    "INSERT INTO leads (id, phone, variables, created_at, updated_at) "
                    "VALUES (:id, :phone, :variables, :now, :now)"
                ),
                {"id": lead, "phone": f"+4071200000{lead}", "variables": variables, "now": NOW},
            )
    blank.upgrade()
    with blank.engine.connect() as connection:
        keys = connection.execute(text("SELECT id, company_key FROM leads ORDER BY id")).all()
    assert [tuple(row) for row in keys] == [(1, "acme.example"), (2, "acme corp"), (3, None)]
    with blank.engine.begin() as connection:
        config = _alembic_config(blank.url)
        config.attributes["connection"] = connection
        command.downgrade(config, "0010")
    with blank.engine.connect() as connection:
        columns = connection.execute(text("SELECT * FROM leads")).keys()
    assert "company_key" not in columns


def test_0014_widens_every_phone_id_column_keeping_the_stored_ids(blank: Database) -> None:
    blank.upgrade("0013")
    insert_phone = text(
        "INSERT INTO phones (id, phone, state, sent_total, failures_total, created_at) "
        "VALUES (:id, :phone, 'active', 0, 0, :now)"
    )
    with blank.engine.begin() as connection:
        connection.execute(insert_phone, {"id": "01", "phone": "+447700900001", "now": NOW})
        connection.execute(
            text("INSERT INTO quota_usage (phone_id, day, used) VALUES ('01', '2026-12-01', 3)")
        )
    blank.upgrade()
    slug = "london-office-" + "x" * 18  # 32 characters, the longest id
    with blank.engine.begin() as connection:
        connection.execute(insert_phone, {"id": slug, "phone": "+447700900002", "now": NOW})
        connection.execute(
            text("INSERT INTO quota_usage (phone_id, day, used) VALUES (:id, '2026-12-01', 1)"),
            {"id": slug},
        )
        connection.execute(
            text("INSERT INTO alerts (kind, severity, phone_id, message, created_at) "
                 "VALUES ('phone_banned', 'critical', :id, 'm', :now)"),
            {"id": slug, "now": NOW},
        )  # fmt: skip
    with blank.engine.connect() as connection:
        used = connection.execute(text("SELECT phone_id, used FROM quota_usage ORDER BY used"))
        assert [tuple(row) for row in used] == [(slug, 1), ("01", 3)]
        if blank.engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            declared = connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'enrollments'"
            ).scalar_one()
            assert "phone_id VARCHAR(32)" in declared
