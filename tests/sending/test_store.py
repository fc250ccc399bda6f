"""The send path's statements on both databases: atomic claims and quota, one record."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from engine.db import Database
from engine.models import Campaign, Enrollment, Lead, Message, Phone, QuotaUsage, StepState
from engine.sending import store

NOW = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
DAY = date(2026, 1, 6)
HOLD = NOW + timedelta(seconds=90)


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


def used(database: Database, day: date = DAY) -> int:
    with database.session() as session:
        usage = session.get(QuotaUsage, ("01", day))
        return usage.used if usage else 0


def test_claim_takes_quota_until_the_limit(database: Database) -> None:
    ids = queued(database, 3)
    with database.engine.begin() as connection:
        results = [store.claim_sending(connection, i, 0, NOW, ("01", DAY, 2)) for i in ids]
    assert results == [store.Claim(True, True), store.Claim(True, True), store.Claim(True, False)]
    assert used(database) == 2


def test_a_quota_of_zero_takes_nothing_even_on_a_fresh_day(database: Database) -> None:
    """A phone not started yet has a quota of 0: the day's first unit must not slip in."""
    [eid] = queued(database)
    with database.engine.begin() as connection:
        claim = store.claim_sending(connection, eid, 0, NOW, ("01", DAY, 0))
    assert claim == store.Claim(True, False)
    assert used(database) == 0


def test_a_lost_claim_takes_no_quota(database: Database) -> None:
    [eid] = queued(database)
    with database.engine.begin() as connection:
        assert store.claim_sending(connection, eid, 0, NOW, ("01", DAY, 5)).claimed
        assert store.claim_sending(connection, eid, 0, NOW, ("01", DAY, 5)) == store.Claim(
            False, False
        )
    assert used(database) == 1


def test_moving_quota_counts_the_send_on_its_day_even_over_the_limit(database: Database) -> None:
    ids = queued(database, 2)
    tomorrow = DAY + timedelta(days=1)
    with database.engine.begin() as connection:
        for eid in ids:
            assert store.claim_sending(connection, eid, 0, NOW, ("01", DAY, 5)).quota_taken
        store.move_quota(connection, "01", DAY, tomorrow)
    assert (used(database), used(database, tomorrow)) == (1, 1)
    with database.engine.begin() as connection:
        assert not store.take_quota(connection, "01", tomorrow, 1)  # tomorrow is full now
        store.move_quota(connection, "01", DAY, tomorrow)  # a send that went out is counted
    assert (used(database), used(database, tomorrow)) == (0, 2)


def test_follow_up_claims_take_no_quota(database: Database) -> None:
    [eid] = queued(database)
    with database.engine.begin() as connection:
        assert store.claim_sending(connection, eid, 0, NOW) == store.Claim(True, True)
    assert used(database) == 0


def next_send_at(database: Database) -> datetime | None:
    with database.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None
        return phone.next_send_at


def test_a_guarded_claim_holds_the_phone_against_a_sender_whose_lease_was_lost(
    database: Database,
) -> None:
    first, second = queued(database, 2)
    guard = store.PhoneGuard("01", seen=None, hold_until=HOLD)
    with database.engine.begin() as connection:
        claim = store.claim_sending(connection, first, 0, NOW, ("01", DAY, 5), guard=guard)
        assert claim == store.Claim(True, True, True)
        # Redis lost the lease: a second worker read the phone before the first claimed it.
        late = store.claim_sending(connection, second, 0, NOW, ("01", DAY, 5), guard=guard)
        assert late == store.Claim(False, False, False)
        assert store.claim_sending(connection, second, 0, NOW, guard=guard).phone_free is False
    assert next_send_at(database) == HOLD  # until the first send records its pacing
    assert used(database) == 1
    with database.session() as session:
        row = session.get(Enrollment, second)
        assert row is not None
        assert row.step_state == StepState.QUEUED  # untouched, for a later delivery


def test_a_claim_that_goes_nowhere_gives_the_phone_its_pacing_back(database: Database) -> None:
    first, second = queued(database, 2)
    with database.engine.begin() as connection:
        assert store.claim_sending(connection, first, 0, NOW, ("01", DAY, 1)).quota_taken
        guard = store.PhoneGuard("01", seen=None, hold_until=HOLD)
        over_quota = store.claim_sending(connection, second, 0, NOW, ("01", DAY, 1), guard=guard)
        assert over_quota == store.Claim(True, False, True)
        assert store.claim_sending(connection, first, 0, NOW, guard=guard) == store.Claim(
            False, True, True
        )  # no longer queued
    assert next_send_at(database) is None  # as the senders read it: free to send


def test_concurrent_guarded_claims_of_one_phone_let_one_through(pg_database: Database) -> None:
    """The row lock on the phone orders two claims: the later one sees the hold."""
    first, second = queued(pg_database, 2)
    guard = store.PhoneGuard("01", seen=None, hold_until=HOLD)
    results: list[store.Claim] = []
    with pg_database.engine.connect() as holder:
        with holder.begin():
            assert store.claim_sending(holder, first, 0, NOW, guard=guard).claimed
            racer = threading.Thread(
                target=lambda: results.append(_claim_alone(pg_database, second, guard))
            )
            racer.start()
            racer.join(0.3)
            assert racer.is_alive()  # waiting for the phone's row
        racer.join(10)
    assert results == [store.Claim(False, True, False)]
    assert next_send_at(pg_database) == HOLD


def _claim_alone(database: Database, eid: int, guard: store.PhoneGuard) -> store.Claim:
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return store.claim_sending(connection, eid, 0, NOW, guard=guard)


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
        guard = store.PhoneGuard("01", seen=None, hold_until=HOLD)
        assert store.claim_sending(connection, eid, 0, NOW, ("01", DAY, 5), guard=guard).claimed
    assert counted.round_trips.take() == 1  # the phone's hold, claim and quota: one statement
    counted.dispose()


# The fast path: read and claim in one statement (PostgreSQL) -------------------------------


def loaded_claim(
    database: Database,
    eid: int,
    *,
    queued_at: datetime | None = None,
    now: datetime = NOW,
    quota: tuple[date, int] | None = (DAY, 5),
) -> store.LoadedClaim:
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return store.load_and_claim(
            connection, eid, 0, phone_id="01", queued_at=queued_at, now=now, hold_until=HOLD,
            quota=quota,
        )  # fmt: skip


def step_state(database: Database, eid: int) -> str:
    with database.session() as session:
        row = session.get(Enrollment, eid)
        assert row is not None
        return row.step_state


def test_load_and_claim_reads_the_item_and_claims_it_in_one_statement(
    pg_database: Database,
) -> None:
    counted = Database(pg_database.url, count_round_trips=True)
    [eid] = queued(counted)
    assert counted.round_trips is not None
    counted.round_trips.take()
    claim = loaded_claim(counted, eid)
    assert counted.round_trips.take() == 1
    counted.dispose()
    assert claim.goes_ahead
    assert claim.item is not None
    # The item is as it was before the claim: the pacing to give back is the one read.
    assert (claim.item.enrollment_id, claim.item.step_state, claim.item.next_send_at) == (
        eid, "queued", None,
    )  # fmt: skip
    assert step_state(pg_database, eid) == "sending"
    assert next_send_at(pg_database) == HOLD
    assert used(pg_database) == 1


def _pace_phone(database: Database, until: datetime) -> None:
    with database.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None
        phone.next_send_at = until
        session.add(phone)


def _pause_phone(database: Database, _: datetime) -> None:
    with database.session() as session:
        phone = session.get(Phone, "01")
        assert phone is not None
        phone.state = "paused"
        session.add(phone)


def _pause_campaign(database: Database, _: datetime) -> None:
    with database.session() as session:
        session.add(Campaign(sequence="s", state="paused"))


def _end_enrollment(database: Database, _: datetime) -> None:
    with database.session() as session:
        for row in session.exec(select(Enrollment)):
            row.state = "replied"
            session.add(row)


def _move_to_phone_02(database: Database, _: datetime) -> None:
    with database.session() as session:
        session.add(Phone(id="02", phone="+447700900002"))
        session.flush()
        for row in session.exec(select(Enrollment)):
            row.phone_id = "02"
            session.add(row)


@pytest.mark.parametrize(
    "change",
    [_pace_phone, _pause_phone, _pause_campaign, _end_enrollment, _move_to_phone_02],
    ids=["paced", "phone paused", "campaign paused", "enrollment ended", "moved to another phone"],
)
def test_load_and_claim_changes_nothing_when_the_step_may_not_go_now(
    pg_database: Database, change: Callable[[Database, datetime], None]
) -> None:
    [eid] = queued(pg_database)
    paced = NOW + timedelta(seconds=1)
    change(pg_database, paced)
    before = next_send_at(pg_database)
    claim = loaded_claim(pg_database, eid)
    assert claim.item is not None and claim.item.enrollment_id == eid
    assert (claim.reserved, claim.claimed) == (False, False)
    assert step_state(pg_database, eid) == "queued"
    assert next_send_at(pg_database) == before
    assert used(pg_database) == 0


def test_load_and_claim_leaves_a_step_of_an_older_dispatch_alone(pg_database: Database) -> None:
    [eid] = queued(pg_database)
    with pg_database.session() as session:
        row = session.get(Enrollment, eid)
        assert row is not None
        row.queued_at = NOW
        session.add(row)
    older = loaded_claim(pg_database, eid, queued_at=NOW - timedelta(seconds=5))
    assert (older.reserved, older.claimed) == (False, False)
    assert step_state(pg_database, eid) == "queued"
    assert loaded_claim(pg_database, eid, queued_at=NOW).goes_ahead


def test_load_and_claim_of_a_gone_enrollment_reads_nothing(pg_database: Database) -> None:
    queued(pg_database)
    assert loaded_claim(pg_database, 999_999) == store.LoadedClaim(None)
    assert next_send_at(pg_database) is None


def test_a_loaded_claim_over_quota_is_released_whole(pg_database: Database) -> None:
    first, second = queued(pg_database, 2)
    assert loaded_claim(pg_database, first, quota=(DAY, 1)).goes_ahead
    _pace_phone(pg_database, NOW)  # the first send recorded its pacing
    claim = loaded_claim(pg_database, second, quota=(DAY, 1))
    assert (claim.reserved, claim.claimed, claim.quota_taken) == (True, True, False)
    assert claim.item is not None
    with pg_database.engine.begin() as connection:
        store.release_claim(connection, claim.item, claim, now=NOW, hold_until=HOLD, quota_day=DAY)
    assert step_state(pg_database, second) == "queued"
    assert next_send_at(pg_database) == NOW
    assert used(pg_database) == 1  # the first message's unit only


def test_releasing_a_loaded_claim_gives_back_step_quota_and_pacing(pg_database: Database) -> None:
    [eid] = queued(pg_database)
    claim = loaded_claim(pg_database, eid)
    assert claim.goes_ahead and claim.item is not None
    with pg_database.engine.begin() as connection:
        store.release_claim(connection, claim.item, claim, now=NOW, hold_until=HOLD, quota_day=DAY)
    with pg_database.session() as session:
        row = session.get(Enrollment, eid)
        assert row is not None
        assert (row.step_state, row.sending_at, row.attempts) == ("queued", None, 0)
    assert next_send_at(pg_database) is None
    assert used(pg_database) == 0


def test_concurrent_loaded_claims_of_one_phone_let_one_through(pg_database: Database) -> None:
    """Two senders of one phone (Redis lost the lease): the phone's row lock orders them."""
    first, second = queued(pg_database, 2)
    results: list[store.LoadedClaim] = []
    with pg_database.engine.connect() as holder:
        with holder.begin():
            claim = store.load_and_claim(
                holder, first, 0, phone_id="01", queued_at=None, now=NOW, hold_until=HOLD,
                quota=(DAY, 5),
            )  # fmt: skip
            assert claim.goes_ahead
            racer = threading.Thread(
                target=lambda: results.append(loaded_claim(pg_database, second))
            )
            racer.start()
            racer.join(0.3)
            assert racer.is_alive()  # waiting for the phone's row
        racer.join(10)
    [late] = results
    assert (late.reserved, late.claimed) == (False, False)
    assert step_state(pg_database, second) == "queued"
    assert next_send_at(pg_database) == HOLD
    assert used(pg_database) == 1
