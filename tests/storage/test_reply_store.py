"""The reply store's contract, one parameter table run against both implementations:
SQLite's steps in one transaction, PostgreSQL's one statement."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from engine.db import Database
from engine.models import AutoReply, Enrollment, Lead, Message, Phone, StepState, Suppression
from engine.storage import Applied, Reply, ReplyStore, reply_store
from sequences import EndReason
from tests.seed import campaign_id
from tests.storage.conftest import NOW

LEAD = "+40712340001"


@dataclass
class Replies:
    database: Database
    store: ReplyStore

    def enrollment(self, sequence: str = "s", **values: Any) -> int:
        """A lead (``LEAD``) on phone 01 with one enrollment of ``sequence``."""
        with self.database.session() as session:
            for pid, number in (("01", "+447700900001"), ("02", "+447700900002")):
                if session.get(Phone, pid) is None:
                    session.add(Phone(id=pid, phone=number))
            lead = session.exec(select(Lead).where(Lead.phone == LEAD)).first()
            if lead is None:
                lead = Lead(phone=LEAD)
                session.add(lead)
                session.flush()
            assert lead.id is not None
            fields = {"state": "active", "step": 1, "step_state": StepState.DUE, **values}
            cid = campaign_id(session, sequence)
            row = Enrollment(
                lead_id=lead.id, campaign_id=cid, sequence=sequence, phone_id="01", **fields
            )
            session.add(row)
            session.flush()
            assert row.id is not None
            return row.id

    def row(self, eid: int) -> Enrollment:
        with self.database.session() as session:
            found = session.get(Enrollment, eid)
            assert found is not None
            return found

    def sent(self, eid: int, step: int) -> None:
        """Our message of ``step`` to the lead, as the send path records it."""
        with self.database.session() as session:
            session.add(Message(
                direction="out", enrollment_id=eid, step=step, phone_id="01",
                message_uid=f"out-{eid}-{step}", text="Hi", status="sent", sent_at=NOW,
            ))  # fmt: skip

    def messages(self) -> list[Message]:
        with self.database.session() as session:
            return list(session.exec(select(Message).where(Message.direction == "in")))


@pytest.fixture
def replies(database: Database) -> Replies:
    return Replies(database, reply_store(database))


def _reply(uid: str = "r-1", *, opt_out: bool = False, **changes: Any) -> Reply:
    base = Reply(
        dedupe_key=f"message:received:new:{uid}", event_type="message:received:new",
        payload={"uid": uid}, message_uid=uid, text="Tell me more", chat_id=None,
        peer_phone=LEAD, sent_at=NOW - timedelta(seconds=3), attachments=None, origin=None,
        receiving="01", opt_out=opt_out,
        reason=EndReason.OPTED_OUT if opt_out else EndReason.REPLIED,
    )  # fmt: skip
    return replace(base, **changes)


@dataclass(frozen=True)
class Case:
    enrollment: dict[str, Any]  # the lead's enrollment before the reply
    reply: Reply
    keep_running: frozenset[str]
    state: str  # the enrollment's state after it
    step_state: str
    ended: bool
    in_flight_step: int | None = None


NOTHING: frozenset[str] = frozenset()
CASES = {
    "a reply ends a running enrollment": Case({}, _reply(), NOTHING, "replied", "due", True),
    "a pending one too": Case(
        {"state": "pending", "step": 0}, _reply(), NOTHING, "replied", "due", True
    ),
    "its queued step leaves the queue": Case(
        {"step_state": "queued", "queued_at": NOW}, _reply(), NOTHING, "replied", "due", True
    ),
    "a step being sent is in flight": Case(
        {"step_state": "sending", "sending_at": NOW},
        _reply(),
        NOTHING,
        "replied",
        "sending",
        True,
        in_flight_step=1,
    ),
    "an opt-out": Case({}, _reply(opt_out=True), NOTHING, "opted_out", "due", True),
    "a sequence that goes on after replies": Case(
        {}, _reply(), frozenset({"s"}), "active", "due", False
    ),
    "an opt-out stops even that one": Case(
        {}, _reply(opt_out=True), frozenset({"s"}), "opted_out", "due", True
    ),
    "an ended enrollment stays as it ended": Case(
        {"state": "completed", "end_reason": "sequence_completed"},
        _reply(),
        NOTHING,
        "completed",
        "due",
        False,
    ),
    "found by chat when the number is unknown": Case(
        {"chat_id": 77},
        _reply(peer_phone="+40799999999", chat_id=77),
        NOTHING,
        "replied",
        "due",
        True,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_reply(replies: Replies, case: Case) -> None:
    eid = replies.enrollment(**case.enrollment)
    replies.sent(eid, 0)
    applied = replies.store.apply(case.reply, keep_running=case.keep_running, now=NOW)
    assert (applied.new, applied.enrollment_id, applied.ended, applied.in_flight_step) == (
        True, eid, case.ended, case.in_flight_step,
    )  # fmt: skip
    row = replies.row(eid)
    assert (row.state, row.step_state) == (case.state, case.step_state)
    if case.ended:
        assert (row.end_reason, row.ended_at) == (case.reply.reason, NOW)
        if row.step_state == "due":
            assert row.queued_at is None
    [message] = replies.messages()
    assert message.id == applied.message_id and message.lead_id == applied.lead_id
    assert (message.enrollment_id, message.step, message.in_flight_step) == (
        eid, 0, case.in_flight_step,
    )  # fmt: skip
    assert (message.message_uid, message.phone_id, message.sent_at) == (
        "r-1", "01", NOW - timedelta(seconds=3),
    )  # fmt: skip


def test_a_redelivery_changes_nothing(replies: Replies) -> None:
    eid = replies.enrollment()
    first = replies.store.apply(_reply(), keep_running=NOTHING, now=NOW)
    assert first.new and first.ended
    with replies.database.session() as session:
        row = session.get(Enrollment, eid)
        assert row is not None
        row.state, row.end_reason = "active", None  # as if resumed by hand since
        session.add(row)
    again = replies.store.apply(_reply(), keep_running=NOTHING, now=NOW + timedelta(seconds=1))
    assert again == Applied(False, None, first.lead_id, eid)
    assert replies.row(eid).state == "active"
    assert len(replies.messages()) == 1


def test_the_running_enrollment_is_the_one_a_reply_ends(replies: Replies) -> None:
    old = replies.enrollment("earlier", state="completed", end_reason="sequence_completed")
    running = replies.enrollment(state="active")
    applied = replies.store.apply(_reply(), keep_running=NOTHING, now=NOW)
    assert applied.enrollment_id == running
    assert (replies.row(old).state, replies.row(running).state) == ("completed", "replied")


def test_an_opt_out_suppresses_the_number_and_drops_answers_not_sent(replies: Replies) -> None:
    eid = replies.enrollment()
    first = replies.store.apply(_reply("r-0"), keep_running=frozenset({"s"}), now=NOW)
    assert first.message_id is not None and first.lead_id is not None
    with replies.database.session() as session:
        session.add(AutoReply(
            lead_id=first.lead_id, message_id=first.message_id, enrollment_id=eid,
            phone_id="01", rule="pricing", text="Our prices", state="queued", due_at=NOW,
        ))  # fmt: skip
    replies.store.apply(_reply(opt_out=True), keep_running=NOTHING, now=NOW)
    with replies.database.session() as session:
        [suppressed] = session.exec(select(Suppression))
        answers = list(session.exec(select(AutoReply)))
    assert (suppressed.phone, suppressed.reason) == (LEAD, "opt_out")
    assert answers == []


def test_a_reply_from_nobody_we_know_is_kept(replies: Replies) -> None:
    replies.enrollment()
    applied = replies.store.apply(
        _reply(peer_phone="+40799999999", receiving=None), keep_running=NOTHING, now=NOW
    )
    assert (applied.new, applied.lead_id, applied.enrollment_id, applied.ended) == (
        True, None, None, False,
    )  # fmt: skip
    [message] = replies.messages()
    assert (message.lead_id, message.peer_phone) == (None, "+40799999999")


def test_a_reply_in_a_known_chat_is_remembered_on_an_enrollment_that_goes_on(
    replies: Replies,
) -> None:
    eid = replies.enrollment()
    replies.store.apply(_reply(chat_id=42), keep_running=frozenset({"s"}), now=NOW)
    assert replies.row(eid).chat_id == 42
