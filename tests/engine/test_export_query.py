"""Reading export rows a page at a time, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection

from engine.db import Database
from engine.exports import (
    ExportRow,
    campaign_rows,
    campaign_sequence,
    count_campaign_rows,
    count_lead_rows,
    leads_rows,
    steps_recorded,
)
from engine.exports.rows import Reply
from engine.models import Enrollment, Lead, LeadTag, Message, Phone
from tests.seed import campaign_id

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def seed(database: Database) -> None:
    """intro: +1 completed (2 steps), +2 replied (and an automatic answer), +3 pending,
    +4 stopped; other: +1 active; +5 wrote to us unasked; +6 never enrolled; +1 and +2
    tagged 'jan'; 'empty' launched with nobody."""
    with database.session() as session:
        campaigns = {name: campaign_id(session, name) for name in ("intro", "other", "empty")}
        session.add(Phone(id="01", phone="+447700900001"))
        leads = [Lead(phone=f"+4071200000{i}", variables={"name": f"L{i}"}) for i in range(1, 7)]
        session.add_all(leads)
        session.flush()
        ids = [lead.id or 0 for lead in leads]
        session.add_all([LeadTag(lead_id=ids[0], tag="jan"), LeadTag(lead_id=ids[1], tag="jan")])
        plans = [  # (lead, sequence, state, steps sent, reply)
            (0, "intro", "completed", 2, None),
            (1, "intro", "replied", 1, "da"),
            (2, "intro", "pending", 0, None),
            (3, "intro", "stopped", 1, None),
            (0, "other", "active", 1, None),
        ]
        for index, sequence, state, sent, reply in plans:
            enrollment = Enrollment(lead_id=ids[index], sequence=sequence, state=state,
                                    phone_id="01", campaign_id=campaigns[sequence])  # fmt: skip
            session.add(enrollment)
            session.flush()
            for step in range(sent):
                session.add(Message(direction="out", enrollment_id=enrollment.id, step=step,
                                    lead_id=ids[index], status="sent", template_variant=0,
                                    sent_at=T0 + timedelta(days=step)))  # fmt: skip
            if reply:
                session.add(Message(direction="in", enrollment_id=enrollment.id, step=0,
                                    lead_id=ids[index], text=reply, status="received",
                                    intent="positive", intents=["call_me"],
                                    sent_at=T0 + timedelta(hours=1)))  # fmt: skip
                session.add(Message(direction="out", enrollment_id=enrollment.id, step=None,
                                    lead_id=ids[index], text="thanks", origin="auto_reply",
                                    status="sent", sent_at=T0 + timedelta(hours=2)))  # fmt: skip
        session.add(Message(direction="in", lead_id=ids[4], text="who?", status="received",
                            sent_at=T0))  # fmt: skip


def _summary(rows: list[ExportRow]) -> list[tuple[str, str | None, str | None, int, str | None]]:
    return [
        (
            r.number[-1:],
            r.campaign,
            r.state,
            len(r.steps),
            r.last_reply.text if r.last_reply else None,
        )
        for r in rows
    ]


@pytest.fixture
def connection(database: Database) -> Iterator[Connection]:
    seed(database)
    with database.engine.connect() as connection:
        yield connection


def test_a_campaign_s_rows_in_enrollment_order(connection: Connection) -> None:
    rows = list(campaign_rows(connection, "intro"))
    assert _summary(rows) == [
        ("1", "intro", "completed", 2, None),
        ("2", "intro", "replied", 1, "da"),  # the automatic answer is no step
        ("3", "intro", "pending", 0, None),
        ("4", "intro", "stopped", 1, None),
    ]
    assert rows[1].last_reply == Reply(T0 + timedelta(hours=1), "da", "positive", ("call_me",))
    assert count_campaign_rows(connection, "intro") == len(rows)
    assert list(campaign_rows(connection, "empty")) == []


def test_leads_rows_one_per_lead_and_campaign(connection: Connection) -> None:
    rows = list(leads_rows(connection))
    assert _summary(rows) == [
        ("1", "intro", "completed", 2, None),
        ("1", "other", "active", 1, None),
        ("2", "intro", "replied", 1, "da"),
        ("3", "intro", "pending", 0, None),
        ("4", "intro", "stopped", 1, None),
        ("5", None, None, 0, "who?"),
        ("6", None, None, 0, None),
    ]
    assert count_lead_rows(connection) == len(rows)


def test_leads_rows_by_tag(connection: Connection) -> None:
    rows = list(leads_rows(connection, "jan"))
    assert [(r.number[-1:], r.campaign) for r in rows] == [
        ("1", "intro"), ("1", "other"), ("2", "intro"),
    ]  # fmt: skip
    assert count_lead_rows(connection, "jan") == 3
    assert list(leads_rows(connection, "nobody")) == []


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_pages_of_any_size_give_the_same_rows(connection: Connection, chunk: int) -> None:
    assert list(campaign_rows(connection, "intro", chunk=chunk)) == list(
        campaign_rows(connection, "intro")
    )
    assert list(leads_rows(connection, chunk=chunk)) == list(leads_rows(connection))


def test_steps_recorded_and_known_campaigns(connection: Connection) -> None:
    assert steps_recorded(connection, "intro") == 2
    assert steps_recorded(connection, "other") == 1
    assert steps_recorded(connection, "empty") == 0
    assert steps_recorded(connection) == 2
    assert campaign_sequence(connection, "intro") == "intro"
    assert campaign_sequence(connection, "empty") == "empty"
    assert campaign_sequence(connection, "nope") is None
