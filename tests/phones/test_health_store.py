"""Every phone's health read from the database, on SQLite and PostgreSQL: the latest rows
of each phone and only those, whatever else the tables hold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from engine.db import Database
from engine.models import Enrollment, Lead, Message
from engine.settings import HealthSettings, PhoneSettings, load_settings
from phones import PhoneHealth, phone_report, sync_phones
from phones.health_store import read_health
from tests.seed import campaign_id

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 1, 20, 12, 0, tzinfo=UTC)
WINDOWS = HealthSettings(first_messages=3, sends=4, replies=3, stuck_after_h=6.0)
PHONES = tuple(PhoneSettings(f"0{n}", f"+44770090000{n}") for n in (1, 2, 3))


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


class Seeder:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.campaign = campaign_id(session, "intro")
        self.leads = 0

    def enrollment(self, phone_id: str, **values: object) -> Enrollment:
        self.leads += 1
        lead = Lead(phone=f"+4477009{self.leads:05d}")
        self.session.add(lead)
        self.session.flush()
        enrollment = Enrollment(
            lead_id=lead.id or 0, campaign_id=self.campaign, sequence="intro",
            phone_id=phone_id, **values,
        )  # fmt: skip
        self.session.add(enrollment)
        self.session.flush()
        return enrollment

    def first(self, phone_id: str, status: str, hours_ago: float, step: int = 0) -> Enrollment:
        enrollment = self.enrollment(phone_id, state="active", step=1)
        self.message(enrollment, "out", hours_ago, status=status, step=step)
        return enrollment

    def message(
        self, enrollment: Enrollment, direction: str, hours_ago: float, **values: object
    ) -> None:
        message = Message(
            direction=direction, enrollment_id=enrollment.id, lead_id=enrollment.lead_id,
            phone_id=enrollment.phone_id, sent_at=ago(hours_ago), **values,
        )  # fmt: skip
        self.session.add(message)
        self.session.flush()

    def invalid(self, phone_id: str, hours_ago: float) -> None:
        self.enrollment(
            phone_id, state="invalid_number", end_reason="invalid_number",
            ended_at=ago(hours_ago), step_state="failed",
        )  # fmt: skip


def seed(database: Database) -> None:
    with database.session() as session:
        sync_phones(session, PHONES)
    with database.session() as session:
        seeder = Seeder(session)
        seeder.first("01", "delivered", 10)
        seeder.first("01", "failed", 9)  # outside the window of 3
        seeder.first("01", "sent", 8)  # stuck
        answered = seeder.first("01", "sent", 7)  # answered: delivered
        seeder.first("01", "sent", 1)  # too early to say
        seeder.first("01", "read", 0.5)
        seeder.first("01", "failed", 0.4, step=1)  # a follow-up: not a first message
        seeder.invalid("01", 0.2)
        seeder.invalid("01", 20)  # outside the last 4 attempts
        seeder.message(answered, "in", 6, status="received")
        opted_out = seeder.enrollment("01", state="opted_out")
        seeder.message(opted_out, "in", 5, status="received", intent="opt_out")
        seeder.message(opted_out, "in", 4, status="received", intent="other")
        seeder.message(opted_out, "in", 3, status="received", intent="opt_out")
        seeder.first("02", "failed", 8)


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
