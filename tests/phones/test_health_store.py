"""Every phone's health read from the database, on SQLite and PostgreSQL: the latest rows
of each phone and only those, whatever else the tables hold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from engine.db import Database
from engine.settings import HealthSettings, PhoneSettings, load_settings
from phones import PhoneHealth, phone_report, sync_phones
from phones.health_store import read_health
from tests.seed import seed_phone_history

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 1, 20, 12, 0, tzinfo=UTC)
WINDOWS = HealthSettings(first_messages=3, sends=4, replies=3, stuck_after_h=6.0)
PHONES = tuple(PhoneSettings(f"0{n}", f"+44770090000{n}") for n in (1, 2, 3))


def seed(database: Database) -> None:
    with database.session() as session:
        sync_phones(session, PHONES)
    seed_phone_history(database, NOW)


def test_each_phone_reads_its_latest_rows(database: Database) -> None:
    seed(database)
    with database.engine.connect() as connection:
        health = read_health(connection, ["01", "02", "03"], WINDOWS, NOW)
    assert health == {
        "01": PhoneHealth(
            "01", first_messages=3, delivered=2, stuck=1, answered=1, sends=4, invalid=1,
            replies=3, opt_outs=2,
        ),
        "02": PhoneHealth("02", first_messages=1, failed=1, sends=1),
        "03": PhoneHealth("03"),
    }  # fmt: skip
    with database.engine.connect() as connection:
        assert read_health(connection, [], WINDOWS, NOW) == {}


def test_the_report_gives_every_configured_phone_its_health(database: Database) -> None:
    seed(database)
    settings = replace(load_settings(ROOT / "config.example.toml"), phones=PHONES)
    with database.session() as session:
        rows = phone_report(session, replace(settings, health=WINDOWS), NOW)
    assert [(row.id, row.health and row.health.delivered_rate) for row in rows] == [
        ("01", 2 / 3), ("02", 0.0), ("03", None),
    ]  # fmt: skip


def test_a_first_message_counts_as_not_delivered_only_on_a_reading_after_its_grace(
    database: Database,
) -> None:
    """The store's SQL and :func:`phones.health.outcome` agree on both backends: a status
    read before the grace period ended (or never) counts neither way, so the window
    reaches back to older outcomes; one read after it counts as stuck."""
    from tests.seed import _History

    with database.session() as session:
        sync_phones(session, PHONES)
        history = _History(session, NOW)
        history.first("01", "delivered", 30, read_hours_ago=29)
        history.first("01", "sent", 26, read_hours_ago=19)  # grace ended 20 h ago: stuck
        history.first("01", "sent", 24, read_hours_ago=17.9)  # ended 18 h ago: stuck
        history.first("01", "sent", 20, read_hours_ago=14.5)  # read just before: unknown
        history.first("01", "sent", 10, read_hours_ago=None)  # never read: unknown
        history.first("01", "sent", 8, read_hours_ago=2.1)  # just before it ended: unknown
    with database.engine.connect() as connection:
        health = read_health(connection, ["01"], WINDOWS, NOW)
    assert health["01"] == PhoneHealth("01", first_messages=3, delivered=1, stuck=2, sends=4)
