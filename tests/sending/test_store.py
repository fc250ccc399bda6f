"""The send path's statements on both databases: atomic claims and quota, one record."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import select

from engine.db import Database
from engine.models import Enrollment, Lead, Message, Phone, QuotaUsage, StepState
from engine.sending import store

NOW = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
DAY = date(2026, 1, 6)


def queued(database: Database, count: int = 1) -> list[int]:
    ids = []
    with database.session() as session:
        session.add(Phone(id="01", phone="+447700900001"))
        for index in range(count):
            lead = Lead(phone=f"+4071234{index:04d}")
            session.add(lead)
            session.flush()
            assert lead.id is not None
            row = Enrollment(
                lead_id=lead.id, sequence="s", step_state=StepState.QUEUED, phone_id="01"
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            ids.append(row.id)
    return ids


def used(database: Database) -> int:
    with database.session() as session:
        usage = session.get(QuotaUsage, ("01", DAY))
        return usage.used if usage else 0


def test_claim_takes_quota_until_the_limit(database: Database) -> None:
    ids = queued(database, 3)
    with database.engine.begin() as connection:
        results = [store.claim_sending(connection, i, 0, NOW, ("01", DAY, 2)) for i in ids]
    assert results == [store.Claim(True, True), store.Claim(True, True), store.Claim(True, False)]
    assert used(database) == 2


def test_a_lost_claim_takes_no_quota(database: Database) -> None:
    [eid] = queued(database)
    with database.engine.begin() as connection:
        assert store.claim_sending(connection, eid, 0, NOW, ("01", DAY, 5)).claimed
        assert store.claim_sending(connection, eid, 0, NOW, ("01", DAY, 5)) == store.Claim(
            False, False
        )
    assert used(database) == 1


def test_follow_up_claims_take_no_quota(database: Database) -> None:
    [eid] = queued(database)
    with database.engine.begin() as connection:
        assert store.claim_sending(connection, eid, 0, NOW) == store.Claim(True, True)
    assert used(database) == 0


def test_record_sent_stores_advances_and_paces_in_one_go(database: Database) -> None:
    [eid] = queued(database)
    with database.engine.begin() as connection:
        store.claim_sending(connection, eid, 0, NOW)
        item = store.load(connection, eid)
    assert item is not None
    assert item.step_state == "sending"
    later = datetime(2026, 1, 8, 10, 0, tzinfo=UTC)
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        store.record_sent(
            connection, item=item, message_uid="u-1", text_sent="Hi", template_variant=0,
            variant_id="v", chat_id=None, now=NOW, next_due=later, next_send_at=NOW,
        )  # fmt: skip
    with database.session() as session:
        enrollment = session.get(Enrollment, eid)
        phone = session.get(Phone, "01")
        messages = list(session.exec(select(Message)))
    assert enrollment is not None
    assert phone is not None
    assert (enrollment.state, enrollment.step, enrollment.step_state, enrollment.due_at) == (
        "active", 1, "due", later,
    )  # fmt: skip
    assert (phone.sent_total, phone.last_send_at) == (1, NOW)
    assert [m.message_uid for m in messages] == ["u-1"]


def test_round_trips_are_counted(pg_database: Database) -> None:
    counted = Database(pg_database.url, count_round_trips=True)
    [eid] = queued(counted)
    assert counted.round_trips is not None
    counted.round_trips.take()
    with counted.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        store.claim_sending(connection, eid, 0, NOW, ("01", DAY, 5))
    assert counted.round_trips.take() == 1  # claim and quota: one statement
    counted.dispose()
