"""A step is claimed only by the phone it is queued on (both databases).

Found by tests/reliability/test_reliability_phone_banned.py: a worker read a first
message queued on its phone; meanwhile the dispatcher requeued that message as lost and
gave it to another phone; the worker's claim still matched (the step was queued again)
and the first message went out from the old phone while the enrollment named the new
one, so the follow-up went out from a phone the lead had never heard from.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import select

from engine.db import Database
from engine.models import Enrollment, Lead, Phone, QuotaUsage, StepState
from engine.sending import store

NOW = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
DAY = date(2026, 1, 6)


def queued_on(database: Database, phone_id: str) -> int:
    with database.session() as session:
        session.add(Phone(id="01", phone="+447700900001"))
        session.add(Phone(id="02", phone="+447700900002"))
        lead = Lead(phone="+40712340000")
        session.add(lead)
        session.flush()
        assert lead.id is not None
        row = Enrollment(
            lead_id=lead.id, sequence="s", step_state=StepState.QUEUED, phone_id=phone_id
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def test_a_step_moved_to_another_phone_is_not_claimed_by_the_old_one(database: Database) -> None:
    eid = queued_on(database, "02")  # the worker of phone 01 read it while it was still 01's
    with database.engine.begin() as connection:
        late = store.claim_sending(connection, eid, 0, NOW, ("01", DAY, 5), phone_id="01")
        assert late == store.Claim(False, False)
        followup = store.claim_sending(connection, eid, 0, NOW, phone_id="01")
        assert followup.claimed is False
        assert store.claim_sending(connection, eid, 0, NOW, ("02", DAY, 5), phone_id="02") == (
            store.Claim(True, True)
        )
    with database.session() as session:
        enrollment = session.get(Enrollment, eid)
        assert enrollment is not None
        assert (enrollment.step_state, enrollment.phone_id) == (StepState.SENDING, "02")
        usage = {(u.phone_id, u.used) for u in session.exec(select(QuotaUsage))}
    assert usage == {("02", 1)}  # the old phone took no quota


def test_without_a_phone_the_claim_takes_the_step_wherever_it_is_queued(
    database: Database,
) -> None:
    eid = queued_on(database, "02")
    with database.engine.begin() as connection:
        assert store.claim_sending(connection, eid, 0, NOW).claimed
